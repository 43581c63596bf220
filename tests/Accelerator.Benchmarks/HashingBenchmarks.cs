using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;

namespace Accelerator.Benchmarks;

/// <summary>
/// SHA-256 over a 16 MiB buffer: one-shot <see cref="SHA256.HashData(byte[])"/> (the baseline) against
/// <see cref="Digest.Compute(ReadOnlySpan{byte})"/>, <see cref="Digest.ComputeAsync"/> over a stream, and reading
/// through a <see cref="VerifyingStream"/> as every blob download does.
/// </summary>
[MemoryDiagnoser]
[MinColumn]
public class HashingBenchmarks
{
    private const int Size = 16 * 1024 * 1024;
    private readonly byte[] _buffer = new byte[1024 * 1024];
    private byte[] _data = [];
    private Digest _digest;

    [GlobalSetup]
    public void Setup()
    {
        _data = BenchmarkData.Content(new Random(7), Size, compressible: false);
        _digest = Digest.Compute(_data);
    }

    [Benchmark(Baseline = true)]
    public byte[] Sha256HashData() => SHA256.HashData(_data);

    [Benchmark]
    public Digest DigestCompute() => Digest.Compute(_data);

    [Benchmark]
    public Task<Digest> DigestComputeAsync() => Digest.ComputeAsync(new MemoryStream(_data, writable: false));

    [Benchmark]
    public async Task<long> VerifyingStreamRead()
    {
        await using var stream = new VerifyingStream(new MemoryStream(_data, writable: false), _digest, _data.Length);
        long total = 0;
        int n;
        while ((n = await stream.ReadAsync(_buffer)) > 0)
        {
            total += n;
        }

        return total;
    }
}
