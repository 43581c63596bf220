using System.Text.Json;
using System.Text.Json.Serialization;
using Accelerator.Linux;

namespace Accelerator.Fuse.Protocol;

/// <summary>What a server asks for in INIT; the kernel's offer bounds what is granted.</summary>
public sealed record FuseInitSettings
{
    /// <summary>The capabilities wanted; only those the kernel offers are granted.</summary>
    /// <value>Default: <see cref="DefaultFlags"/>.</value>
    public FuseInitFlags Flags { get; init; } = DefaultFlags;

    /// <summary>The largest READ wanted, in bytes (rounded up to pages; the kernel clamps it to its own limit).</summary>
    /// <value>Default 1 MiB.</value>
    public int MaxRead { get; init; } = 1024 * 1024;

    /// <summary>The largest WRITE payload (the device read buffer must hold it plus the headers).</summary>
    /// <value>Default 128 KiB.</value>
    public int MaxWrite { get; init; } = 128 * 1024;

    /// <summary>The most asynchronous requests (readahead) in flight.</summary>
    /// <value>Default 64.</value>
    public int MaxBackground { get; init; } = 64;

    /// <summary>
    /// The capabilities a read-only, immutable tree wants: asynchronous and large reads, parallel directory operations,
    /// READDIRPLUS chosen adaptively, and cached symlinks.
    /// </summary>
    public const FuseInitFlags DefaultFlags = FuseInitFlags.AsyncRead | FuseInitFlags.ParallelDirops | FuseInitFlags.MaxPages
        | FuseInitFlags.DoReaddirplus | FuseInitFlags.ReaddirplusAuto | FuseInitFlags.CacheSymlinks;
}

/// <summary>
/// What INIT settled: versions, granted capabilities, sizes. A successor that resumes the connection gets no INIT, so
/// the predecessor saves this (<see cref="ToJson"/>) with the device and the successor reads it back
/// (<see cref="FromJson"/>).
/// </summary>
public sealed record FuseConnectionInfo
{
    /// <summary>The kernel's protocol version, major.</summary>
    public required uint KernelMajor { get; init; }

    /// <summary>The kernel's protocol version, minor.</summary>
    public required uint KernelMinor { get; init; }

    /// <summary>The negotiated minor version (the lower of the kernel's and <see cref="FuseProtocol.MinorVersion"/>).</summary>
    public required uint Minor { get; init; }

    /// <summary>The capabilities the kernel offered.</summary>
    public required FuseInitFlags KernelFlags { get; init; }

    /// <summary>The capabilities granted (wanted and offered).</summary>
    public required FuseInitFlags Flags { get; init; }

    /// <summary>The readahead the kernel will use, in bytes.</summary>
    public required uint MaxReadahead { get; init; }

    /// <summary>The largest READ the kernel will send, in bytes (as asked; the kernel may clamp it further).</summary>
    public required int MaxRead { get; init; }

    /// <summary>The largest WRITE payload.</summary>
    public required int MaxWrite { get; init; }

    /// <summary>The pages per request asked for (0 when FUSE_MAX_PAGES was not granted).</summary>
    public required int MaxPages { get; init; }

    /// <summary>The most background requests in flight.</summary>
    public required int MaxBackground { get; init; }

    /// <summary>
    /// Whether the kernel takes <see cref="FuseNotifyCode.Resend"/>: protocol 7.40 or later (Linux 6.9), or
    /// <see cref="FuseInitFlags.HasResend"/> offered (Linux 6.10 announces it). Derived, not stored.
    /// </summary>
    [JsonIgnore]
    public bool KernelCanResend => KernelMajor == FuseProtocol.KernelVersion
        && (KernelMinor >= 40 || (KernelFlags & FuseInitFlags.HasResend) != 0);

    /// <summary>Whether a capability was granted.</summary>
    public bool Has(FuseInitFlags flag) => (Flags & flag) == flag;

    /// <summary>This connection as JSON (camelCase names, flags as numbers), for <see cref="FromJson"/>.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, FuseJsonContext.Default.FuseConnectionInfo);

    /// <summary>Reads a connection saved by <see cref="ToJson"/>, checking every value is one INIT can settle.</summary>
    /// <exception cref="JsonException">Not JSON of a connection, a field missing, or a value out of range.</exception>
    public static FuseConnectionInfo FromJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        var connection = JsonSerializer.Deserialize(json, FuseJsonContext.Default.FuseConnectionInfo)
            ?? throw new JsonException("A FUSE connection's JSON is null.");
        return connection.Validate() is { } problem ? throw new JsonException($"A saved FUSE connection is invalid: {problem}.") : connection;
    }

    private string? Validate()
    {
        if (KernelMajor != FuseProtocol.KernelVersion)
        {
            return $"kernel major {KernelMajor} is not {FuseProtocol.KernelVersion}";
        }

        if (Minor < 1 || Minor > FuseProtocol.MinorVersion || Minor > KernelMinor)
        {
            return $"minor {Minor} is not one negotiated with kernel minor {KernelMinor}";
        }

        if ((Flags & ~KernelFlags & ~FuseInitFlags.InitExtended) != 0)
        {
            return "flags granted that the kernel did not offer";
        }

        if (MaxRead is < FuseProtocol.PageSize or > 16 * 1024 * 1024 || MaxWrite is < FuseProtocol.PageSize or > 16 * 1024 * 1024)
        {
            return $"max read {MaxRead} or max write {MaxWrite} outside 4 KiB to 16 MiB";
        }

        return MaxPages is < 0 or > ushort.MaxValue || MaxBackground is < 1 or > ushort.MaxValue
            ? $"max pages {MaxPages} or max background {MaxBackground} out of range"
            : null;
    }
}

/// <summary>The source-generated JSON of the FUSE types that are saved (<see cref="FuseConnectionInfo"/>).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(FuseConnectionInfo))]
public sealed partial class FuseJsonContext : JsonSerializerContext
{
}

/// <summary>The outcome of <see cref="FuseInit.Negotiate"/>: the reply to send, and the connection when one was agreed.</summary>
/// <param name="Reply">The reply body.</param>
/// <param name="ReplySize">How many bytes of <paramref name="Reply"/> to send (older protocols take a shorter prefix).</param>
/// <param name="Error">0, or the errno to reply instead of <paramref name="Reply"/> (the kernel's major is older than 7).</param>
/// <param name="Connection">The agreed connection; null when the kernel must retry INIT with our major (it offered a
/// newer major) or on error.</param>
public readonly record struct FuseInitResult(FuseInitOut Reply, int ReplySize, int Error, FuseConnectionInfo? Connection);

/// <summary>
/// INIT negotiation (linux/fuse.h, "Version negotiation"): the kernel sends its version; a server that speaks a newer
/// major replies with its own major only and the kernel retries; on the same major, the reply carries the lower minor
/// of the two and the capabilities granted, in the layout of that minor.
/// </summary>
public static class FuseInit
{
    // FUSE_DEFAULT_MAX_PAGES_PER_REQ in fs/fuse/fuse_i.h: the request size without FUSE_MAX_PAGES.
    private const int DefaultMaxPages = 32;

    /// <summary>Negotiates a connection for the kernel's <paramref name="request"/>.</summary>
    public static FuseInitResult Negotiate(in FuseInitIn request, FuseInitSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var reply = new FuseInitOut { Major = FuseProtocol.KernelVersion, Minor = FuseProtocol.MinorVersion };
        if (request.Major > FuseProtocol.KernelVersion)
        {
            // The kernel speaks a newer major: answer with ours (major and minor only); it sends INIT again.
            return new FuseInitResult(reply, FuseProtocol.CompatInitOutSize, 0, null);
        }

        if (request.Major < FuseProtocol.KernelVersion)
        {
            return new FuseInitResult(default, 0, Errno.EPROTO, null);
        }

        uint minor = Math.Min(request.Minor, FuseProtocol.MinorVersion);
        bool extended = minor >= 36 && (request.Flags & (uint)FuseInitFlags.InitExtended) != 0;
        var offered = (FuseInitFlags)request.Flags | (extended ? (FuseInitFlags)((ulong)request.Flags2 << 32) : 0);
        var granted = settings.Flags & offered;
        if (extended)
        {
            granted |= FuseInitFlags.InitExtended;
        }

        int maxPages = granted.HasFlag(FuseInitFlags.MaxPages)
            ? (int)Math.Clamp((settings.MaxRead + (long)FuseProtocol.PageSize - 1) / FuseProtocol.PageSize, 1, ushort.MaxValue)
            : 0;
        int maxRead = Math.Min(settings.MaxRead, (maxPages == 0 ? DefaultMaxPages : maxPages) * FuseProtocol.PageSize);
        int maxBackground = Math.Clamp(settings.MaxBackground, 1, ushort.MaxValue);

        reply.Minor = minor;
        reply.MaxReadahead = request.MaxReadahead;
        reply.Flags = (uint)granted;
        reply.Flags2 = extended ? (uint)((ulong)granted >> 32) : 0;
        reply.MaxBackground = (ushort)maxBackground;
        reply.CongestionThreshold = (ushort)Math.Max(1, maxBackground * 3 / 4);
        reply.MaxWrite = (uint)Math.Max(FuseProtocol.PageSize, settings.MaxWrite);
        reply.TimeGranularity = 1;
        reply.MaxPages = (ushort)maxPages;

        int size = minor < 5 ? FuseProtocol.CompatInitOutSize
            : minor < 23 ? FuseProtocol.Compat22InitOutSize
            : System.Runtime.CompilerServices.Unsafe.SizeOf<FuseInitOut>();
        var connection = new FuseConnectionInfo
        {
            KernelMajor = request.Major,
            KernelMinor = request.Minor,
            Minor = minor,
            KernelFlags = offered,
            Flags = granted,
            MaxReadahead = request.MaxReadahead,
            MaxRead = maxRead,
            MaxWrite = (int)reply.MaxWrite,
            MaxPages = maxPages,
            MaxBackground = maxBackground,
        };
        return new FuseInitResult(reply, size, 0, connection);
    }
}
