using System.Text.Json;
using System.Text.Json.Serialization;
using Accelerator.Fuse.Protocol;

namespace Accelerator.Fuse.Takeover;

/// <summary>
/// What a mounter deposits with the holder beside a FUSE descriptor, as JSON (≤ 64 KiB): which content the mount
/// serves (its identity: <see cref="Strategy"/>, <see cref="Manifest"/>, <see cref="ReadOnly"/>), the negotiated
/// connection (no second INIT comes to a successor), and every mount and device stacked on it, so a successor adopts
/// them instead of mounting again.
/// </summary>
public sealed record FuseTakeoverState
{
    /// <summary>The layout version; a successor that does not know it mounts fresh.</summary>
    public const int CurrentVersion = 1;

    /// <summary>The layout version (<see cref="CurrentVersion"/>).</summary>
    public int Version { get; init; } = CurrentVersion;

    /// <summary>The strategy serving the mount point (<c>lazy</c>, <c>block</c>).</summary>
    public required string Strategy { get; init; }

    /// <summary>The image reference as mounted (for messages).</summary>
    public required string Image { get; init; }

    /// <summary>The digest of the manifest served (the lazy or block variant's).</summary>
    public required string Manifest { get; init; }

    /// <summary>Whether the mount point is the bare read-only tree (no overlay).</summary>
    public required bool ReadOnly { get; init; }

    /// <summary>The FUSE mount's canonical path.</summary>
    public required string FuseMountPoint { get; init; }

    /// <summary>The FUSE mount's device minor (the <c>0:N</c> of mountinfo).</summary>
    public required uint DeviceMinor { get; init; }

    /// <summary>What INIT settled.</summary>
    public required FuseConnectionInfo Connection { get; init; }

    /// <summary>The mount's private directory (FUSE lower tree, overlay upper and work).</summary>
    public required string PrivateDirectory { get; init; }

    /// <summary>The overlay at the mount point of a writable mount; null when read-only.</summary>
    public string? Overlay { get; init; }

    /// <summary>Block mounts: the loop device on the FUSE file.</summary>
    public string? LoopDevice { get; init; }

    /// <summary>Block mounts: the loop device's backing file (the FUSE file).</summary>
    public string? BackingFile { get; init; }

    /// <summary>Block mounts: where the disk's file system is mounted from the loop device.</summary>
    public string? FileSystemMount { get; init; }

    /// <summary>Block mounts: the disk's file system type.</summary>
    public string? FileSystemType { get; init; }

    /// <summary>Block mounts: the FUSE file's times (seconds since the epoch), kept so the file's attributes do not change.</summary>
    public long? DiskTime { get; init; }

    /// <summary>Whether this state names the same content as <paramref name="other"/> (strategy, manifest, read-only).</summary>
    public bool SameContentAs(FuseTakeoverState other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return Strategy == other.Strategy && Manifest == other.Manifest && ReadOnly == other.ReadOnly;
    }

    /// <summary>Serializes to the JSON the holder keeps.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, FuseTakeoverJsonContext.Default.FuseTakeoverState);

    /// <summary>Parses a deposited state; null when it is not one this version understands.</summary>
    public static FuseTakeoverState? TryParse(string json)
    {
        try
        {
            var state = JsonSerializer.Deserialize(json, FuseTakeoverJsonContext.Default.FuseTakeoverState);
            return state is { Version: CurrentVersion } ? state : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

/// <summary>The source-generated JSON context of <see cref="FuseTakeoverState"/>.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(FuseTakeoverState))]
internal sealed partial class FuseTakeoverJsonContext : JsonSerializerContext
{
}
