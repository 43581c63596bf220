using System.IO.Compression;
using Accelerator.Oci.Layers;
using Accelerator.Oci.Model;
using BenchmarkDotNet.Attributes;

namespace Accelerator.Benchmarks;

/// <summary>
/// Decompressing one 32 MiB layer (half text, half random files) through <see cref="LayerStreams.OpenDecompressed"/>:
/// gzip (the baseline; what almost every registry image uses) against zstd, and a bare <see cref="GZipStream"/> to
/// show what the layer stream (magic sniffing, byte bound) adds.
/// </summary>
[MemoryDiagnoser]
[MinColumn]
public class DecompressionBenchmarks
{
    private readonly byte[] _buffer = new byte[128 * 1024];
    private byte[] _gzip = [];
    private byte[] _zstd = [];

    [GlobalSetup]
    public void Setup()
    {
        byte[] tar = BenchmarkData.Tar(files: 256, fileSize: 128 * 1024, seed: 3);
        _gzip = BenchmarkData.Gzip(tar);
        _zstd = BenchmarkData.Zstd(tar);
    }

    [Benchmark(Baseline = true)]
    public Task<long> Gzip() => DrainAsync(LayerStreams.OpenDecompressed(new MemoryStream(_gzip, writable: false), LayerCompression.Gzip));

    [Benchmark]
    public Task<long> Zstd() => DrainAsync(LayerStreams.OpenDecompressed(new MemoryStream(_zstd, writable: false), LayerCompression.Zstd));

    [Benchmark]
    public Task<long> GzipStreamOnly() => DrainAsync(new GZipStream(new MemoryStream(_gzip, writable: false), CompressionMode.Decompress));

    private async Task<long> DrainAsync(Stream stream)
    {
        await using (stream)
        {
            long total = 0;
            int n;
            while ((n = await stream.ReadAsync(_buffer)) > 0)
            {
                total += n;
            }

            return total;
        }
    }
}
