using System.Text.Json.Serialization;

namespace Accelerator.Snapshotter.Remote;

/// <summary>One image the node daemon decided about, as <c>GET /v1/images</c> and <c>accel snapshotter status</c> show it.</summary>
public sealed record RemoteImageStatus
{
    /// <summary>The image reference from the CRI labels.</summary>
    public required string Image { get; init; }

    /// <summary>The manifest digest from the CRI labels.</summary>
    public required string Manifest { get; init; }

    /// <summary>The strategy that serves it (<c>cache</c>, <c>lazy</c>, <c>block</c>), or <c>ordinary</c> when containerd downloads it.</summary>
    public required string Strategy { get; init; }

    /// <summary>
    /// What the strategy mounted, when it has more than one kind of source (<see cref="MountStatistics.Source"/>): the
    /// lazy strategy says <c>converted</c> (a converted variant) or <c>seekable</c> (the image's own layers through
    /// seekable indexes, eStargz or zstd:chunked); null otherwise, and until a served image is mounted after a restart.
    /// </summary>
    public string? Source { get; init; }

    /// <summary>Why: <c>served</c>, or why no strategy could serve it.</summary>
    public required string Reason { get; init; }

    /// <summary>The strategies tried before the one that served, with why each could not.</summary>
    public IReadOnlyList<SkippedStrategy> Skipped { get; init; } = [];

    /// <summary>When the decision was made.</summary>
    public DateTimeOffset DecidedAt { get; init; }

    /// <summary>From the start of the decision until the image was mounted, in milliseconds (0 for ordinary).</summary>
    public double TimeToReadyMilliseconds { get; init; }

    /// <summary>Bytes the mount fetched so far (0 when not mounted).</summary>
    public long BytesFetched { get; init; }

    /// <summary>How many committed snapshots (containerd's layers of it) this image backs.</summary>
    public int Snapshots { get; init; }

    /// <summary>Whether the image is mounted now (a served image is mounted again on first use after a restart).</summary>
    public bool Mounted { get; init; }
}

/// <summary>A strategy the facade skipped, and why.</summary>
/// <param name="Strategy">The strategy's name.</param>
/// <param name="Reason">Why it could not serve the image.</param>
public sealed record SkippedStrategy(string Strategy, string Reason);

/// <summary>The JSON of the remote snapshots' records and status (source-generated, camelCase).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = false)]
[JsonSerializable(typeof(IReadOnlyList<RemoteImageStatus>))]
[JsonSerializable(typeof(RemoteImageRecord))]
public sealed partial class RemoteSnapshotsJsonContext : JsonSerializerContext
{
}

/// <summary>What the daemon keeps about a served image across restarts (<c>DIRECTORY/ID/image.json</c>).</summary>
public sealed record RemoteImageRecord
{
    /// <summary>The image reference from the CRI labels.</summary>
    public required string Image { get; init; }

    /// <summary>The manifest digest from the CRI labels.</summary>
    public required string Manifest { get; init; }

    /// <summary>How many layers the image has.</summary>
    public int Layers { get; init; }

    /// <summary>The strategy that served it when it was decided.</summary>
    public required string Strategy { get; init; }

    /// <summary>When it was decided.</summary>
    public DateTimeOffset DecidedAt { get; init; }

    /// <summary>The chain IDs of the committed snapshots it backs.</summary>
    public IReadOnlyList<string> Snapshots { get; init; } = [];
}
