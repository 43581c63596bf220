using System.Text.Json;
using System.Text.Json.Serialization;

namespace Accelerator.Benchmarks.Plots;

/// <summary>The figures of <c>scripts/bench.sh lazy</c> (docs/benchmarks/lazy.json).</summary>
public sealed record LazyData
{
    /// <summary>Cold start runs, seconds from the mount command to the last read (null: a failed run).</summary>
    public required IReadOnlyList<double?> LazySeconds { get; init; }

    /// <summary>Cold start runs of the baseline (<c>accel pull</c> + the same reads), seconds.</summary>
    public required IReadOnlyList<double?> PullSeconds { get; init; }

    /// <summary>Bytes the lazy mount fetched, per run.</summary>
    public required IReadOnlyList<double?> LazyBytesFetched { get; init; }

    /// <summary>Bytes the full pull fetched (every layer).</summary>
    public required double PullBytesFetched { get; init; }

    /// <summary>Bytes the start read.</summary>
    public required double BytesRead { get; init; }

    /// <summary>Warm read throughput per workload, MB/s.</summary>
    public required IReadOnlyList<LazyWarmRead> WarmReads { get; init; }
}

/// <summary>One warm read workload: MB/s on the native file system, the lazy mount and squashfuse.</summary>
public sealed record LazyWarmRead(string Workload, double? Native, double? Lazy, double? Squashfuse);

/// <summary>The figures of <c>scripts/bench.sh p2p</c> (docs/benchmarks/p2p.json).</summary>
public sealed record P2PData
{
    /// <summary>The blob size, MB.</summary>
    public required double BlobMb { get; init; }

    /// <summary>The registry's cap, e.g. 200mbit.</summary>
    public required string Rate { get; init; }

    /// <summary>One row per number of clients.</summary>
    public required IReadOnlyList<P2PRow> Rows { get; init; }
}

/// <summary>N clients: completion times (seconds) directly from the registry and through P2P.</summary>
public sealed record P2PRow(int N, double DirectP50, double DirectMax, double P2PP50, double P2PP99, double P2PMax);

internal static class BenchmarkJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        PropertyNameCaseInsensitive = true,
        NumberHandling = JsonNumberHandling.AllowReadingFromString,
        MaxDepth = 8,
        // A null where the record has none, or a missing constructor field, is a data error, not a crash later.
        RespectNullableAnnotations = true,
        RespectRequiredConstructorParameters = true,
    };

    // Data files are small; a bound keeps a wrong path (a huge file) from being read whole.
    private const long MaxBytes = 1 << 20;

    public static T Read<T>(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists)
        {
            throw new FileNotFoundException($"{path} does not exist.", path);
        }

        if (info.Length > MaxBytes)
        {
            throw new InvalidDataException($"{path} is {info.Length} bytes, over the {MaxBytes}-byte limit for a benchmark data file.");
        }

        return JsonSerializer.Deserialize<T>(File.ReadAllBytes(path), Options)
            ?? throw new InvalidDataException($"{path} holds no {typeof(T).Name}.");
    }
}
