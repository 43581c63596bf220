using System.Formats.Tar;
using Accelerator.Oci.Layers;
using BenchmarkDotNet.Attributes;

namespace Accelerator.Benchmarks;

/// <summary>
/// Reading every entry and all its data out of an uncompressed layer tar held in memory: our streaming
/// <see cref="LayerTarReader"/> against System.Formats.Tar's <see cref="TarReader"/> (the baseline) on the same archive.
/// </summary>
[MemoryDiagnoser]
[MinColumn]
public class TarReadingBenchmarks
{
    private byte[] _archive = [];

    /// <summary>The archive's shape: 8,000 files of 2 KiB (headers dominate), or 8 files of 4 MiB (data dominates).</summary>
    [Params("many-small", "few-large")]
    public string Shape { get; set; } = "many-small";

    [GlobalSetup]
    public void Setup()
        => _archive = Shape == "many-small" ? BenchmarkData.Tar(files: 8000, fileSize: 2 * 1024) : BenchmarkData.Tar(files: 8, fileSize: 4 * 1024 * 1024);

    [Benchmark(Baseline = true)]
    public async Task<long> SystemFormatsTar()
    {
        long bytes = 0;
        await using var reader = new TarReader(new MemoryStream(_archive, writable: false));
        while (await reader.GetNextEntryAsync() is { } entry)
        {
            if (entry.DataStream is { } data)
            {
                bytes += await Drain(data);
            }
        }

        return bytes;
    }

    [Benchmark]
    public async Task<long> LayerTarReader()
    {
        long bytes = 0;
        await using var reader = new LayerTarReader(new MemoryStream(_archive, writable: false));
        while (await reader.ReadNextAsync() is { } entry)
        {
            bytes += await Drain(entry.Data);
        }

        return bytes;
    }

    private static async ValueTask<long> Drain(Stream data)
    {
        byte[] buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(81920);
        try
        {
            long total = 0;
            int n;
            while ((n = await data.ReadAsync(buffer)) > 0)
            {
                total += n;
            }

            return total;
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
