namespace Accelerator.Snapshotter.Remote;

/// <summary>
/// One image served remotely: its directory (<c>DIRECTORY/ID</c>), the mount every layer of it shares, the intermediate
/// layers unpacked for other images, and the committed snapshots (chain IDs) it backs. Mutable state is guarded by
/// <see cref="Gate"/> (mounting, unpacking) and by the provider's lock (<see cref="Snapshots"/>).
/// </summary>
internal sealed class RemoteImage(int id, string directory, ImageReference image, Digest manifestDigest, int layerCount)
{
    public int Id { get; } = id;

    /// <summary><c>DIRECTORY/ID</c>, 0700.</summary>
    public string Directory { get; } = directory;

    /// <summary>Where the facade mounts the image (read-only): the lower directory of containers of its top layer.</summary>
    public string MountPoint => Path.Combine(Directory, "mnt");

    /// <summary>Where intermediate layers are unpacked: <c>layers/DEPTH</c>.</summary>
    public string LayerDirectory(int depth) => Path.Combine(Directory, "layers", depth.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary><c>image.json</c>.</summary>
    public string RecordPath => Path.Combine(Directory, "image.json");

    public ImageReference Image { get; } = image;

    public Digest ManifestDigest { get; } = manifestDigest;

    public int LayerCount { get; } = layerCount;

    /// <summary>The manifest and chain IDs, once read (after a restart: when first needed).</summary>
    public RemoteImageManifest? Manifest { get; set; }

    /// <summary>The facade's mount, or null when not mounted (yet, or again after a restart).</summary>
    public IMountedImage? Mounted { get; set; }

    /// <summary>The strategy that served it (kept when it is mounted again).</summary>
    public string Strategy { get; set; } = "";

    /// <summary>What the strategy mounted (<see cref="MountStatistics.Source"/>: lazy says converted or seekable), or null.</summary>
    public string? Source { get; set; }

    public IReadOnlyList<SkippedStrategy> Skipped { get; set; } = [];

    public DateTimeOffset DecidedAt { get; set; }

    public TimeSpan TimeToReady { get; set; }

    /// <summary>The chain IDs of the committed snapshots this image backs.</summary>
    public HashSet<string> Snapshots { get; } = new(StringComparer.Ordinal);

    /// <summary>Serializes mounting and unpacking.</summary>
    public SemaphoreSlim Gate { get; } = new(1, 1);

    /// <summary>Set when the last snapshot was released: nothing may mount it again.</summary>
    public bool Released { get; set; }
}
