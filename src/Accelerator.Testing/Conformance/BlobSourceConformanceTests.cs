using Xunit;

namespace Accelerator.Testing.Conformance;

/// <summary>
/// The behaviour every <see cref="IBlobSource"/> must have. A test class per implementation inherits it and says how to
/// build a source holding given blobs; xUnit then runs every test below against that implementation.
/// </summary>
public abstract class BlobSourceConformanceTests
{
    /// <summary>Size of the main test blob: larger than common copy buffers, not a multiple of them.</summary>
    protected const int LargeBlobSize = (256 * 1024) + 123;

    /// <summary>
    /// Creates a source holding <paramref name="blobs"/> exactly as given: an entry whose content does not hash to its
    /// digest must be stored as is (it stands for corrupted content).
    /// </summary>
    protected abstract Task<IBlobSource> CreateSourceAsync(IReadOnlyList<KeyValuePair<Digest, byte[]>> blobs);

    /// <summary>Deterministic pseudo-random content.</summary>
    protected static byte[] MakeContent(int size, int seed)
    {
        byte[] content = new byte[size];
        new Random(seed).NextBytes(content);
        return content;
    }

    private static KeyValuePair<Digest, byte[]> Entry(byte[] content) => new(Digest.Compute(content), content);

    private async Task<(IBlobSource Source, byte[] Content, BlobAddress Address)> CreateWithLargeBlobAsync()
    {
        byte[] content = MakeContent(LargeBlobSize, 1);
        var entry = Entry(content);
        var source = await CreateSourceAsync([entry, Entry(MakeContent(100, 2))]);
        return (source, content, new BlobAddress("conformance/test", entry.Key, content.Length));
    }

    private static async Task<byte[]> ReadToEndAsync(Stream stream)
    {
        await using (stream)
        {
            using var buffer = new MemoryStream();
            await stream.CopyToAsync(buffer);
            return buffer.ToArray();
        }
    }

    private static Digest MissingDigest => Digest.Compute("not stored"u8);

    /// <summary>The size of a stored blob.</summary>
    [Fact]
    public async Task GetSizeAsync_StoredBlob_ReturnsLength()
    {
        var (source, content, address) = await CreateWithLargeBlobAsync();
        Assert.Equal(content.Length, await source.GetSizeAsync(address with { Size = -1 }));
    }

    /// <summary>Size of a missing blob.</summary>
    [Fact]
    public async Task GetSizeAsync_MissingBlob_ThrowsBlobNotFound()
    {
        var (source, _, _) = await CreateWithLargeBlobAsync();
        await Assert.ThrowsAsync<BlobNotFoundException>(async () => await source.GetSizeAsync(new BlobAddress("conformance/test", MissingDigest)));
    }

    /// <summary>A whole read with the size known.</summary>
    [Fact]
    public async Task OpenReadAsync_StoredBlobWithSize_YieldsContent()
    {
        var (source, content, address) = await CreateWithLargeBlobAsync();
        Assert.Equal(content, await ReadToEndAsync(await source.OpenReadAsync(address)));
    }

    /// <summary>A whole read with the size unknown.</summary>
    [Fact]
    public async Task OpenReadAsync_StoredBlobWithoutSize_YieldsContent()
    {
        var (source, content, address) = await CreateWithLargeBlobAsync();
        Assert.Equal(content, await ReadToEndAsync(await source.OpenReadAsync(address with { Size = -1 })));
    }

    /// <summary>An empty blob reads as empty.</summary>
    [Fact]
    public async Task OpenReadAsync_EmptyBlob_YieldsNothing()
    {
        var entry = Entry([]);
        var source = await CreateSourceAsync([entry]);
        Assert.Empty(await ReadToEndAsync(await source.OpenReadAsync(new BlobAddress(string.Empty, entry.Key, 0))));
    }

    /// <summary>A missing blob, at open or at the first read.</summary>
    [Fact]
    public async Task OpenReadAsync_MissingBlob_ThrowsBlobNotFound()
    {
        var (source, _, _) = await CreateWithLargeBlobAsync();
        await Assert.ThrowsAsync<BlobNotFoundException>(async () => await ReadToEndAsync(await source.OpenReadAsync(new BlobAddress("conformance/test", MissingDigest, 10))));
    }

    /// <summary>Content that does not hash to its digest (same size, one byte changed).</summary>
    [Fact]
    public async Task OpenReadAsync_CorruptedContent_ThrowsDigestMismatch()
    {
        byte[] good = MakeContent(LargeBlobSize, 3);
        byte[] bad = (byte[])good.Clone();
        bad[bad.Length / 2] ^= 0x40;
        var digest = Digest.Compute(good);
        var source = await CreateSourceAsync([new(digest, bad)]);
        var ex = await Assert.ThrowsAsync<DigestMismatchException>(async () => await ReadToEndAsync(await source.OpenReadAsync(new BlobAddress(string.Empty, digest, good.Length))));
        Assert.Equal(digest, ex.Expected);
    }

    /// <summary>Content shorter than its digest's content, read without a known size.</summary>
    [Fact]
    public async Task OpenReadAsync_TruncatedContentWithoutSize_ThrowsDigestMismatch()
    {
        byte[] good = MakeContent(4096, 4);
        var digest = Digest.Compute(good);
        var source = await CreateSourceAsync([new(digest, good[..4000])]);
        await Assert.ThrowsAsync<DigestMismatchException>(async () => await ReadToEndAsync(await source.OpenReadAsync(new BlobAddress(string.Empty, digest))));
    }

    /// <summary>An address whose size disagrees with the stored blob.</summary>
    [Fact]
    public async Task OpenReadAsync_WrongExpectedSize_ThrowsDigestMismatchAndNeverYieldsMore()
    {
        var (source, content, address) = await CreateWithLargeBlobAsync();
        var stream = await source.OpenReadAsync(address with { Size = content.Length - 10 });
        long read = 0;
        await Assert.ThrowsAsync<DigestMismatchException>(async () =>
        {
            await using (stream)
            {
                byte[] buffer = new byte[8192];
                int n;
                while ((n = await stream.ReadAsync(buffer)) > 0)
                {
                    read += n;
                }
            }
        });
        Assert.True(read <= content.Length - 10, $"read {read} bytes, more than the expected size");
    }

    /// <summary>Ranged reads at the start, the middle and the end.</summary>
    [Theory]
    [InlineData(0, 1000)]
    [InlineData(100_000, 65_536)]
    [InlineData(LargeBlobSize - 500, 500)]
    [InlineData(0, LargeBlobSize)]
    public async Task OpenRangeAsync_InsideBlob_YieldsExactlyTheRange(long offset, long length)
    {
        var (source, content, address) = await CreateWithLargeBlobAsync();
        byte[] range = await ReadToEndAsync(await source.OpenRangeAsync(address, offset, length));
        Assert.Equal(content.AsSpan((int)offset, (int)length).ToArray(), range);
    }

    /// <summary>A range that runs past the end stops at the end.</summary>
    [Fact]
    public async Task OpenRangeAsync_RunningPastEnd_StopsAtEnd()
    {
        var (source, content, address) = await CreateWithLargeBlobAsync();
        byte[] range = await ReadToEndAsync(await source.OpenRangeAsync(address, content.Length - 100, 1000));
        Assert.Equal(content[^100..], range);
    }

    /// <summary>A range that starts at or past the end is empty.</summary>
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(1_000_000)]
    public async Task OpenRangeAsync_StartingAtOrPastEnd_YieldsNothing(long beyond)
    {
        var (source, content, address) = await CreateWithLargeBlobAsync();
        Assert.Empty(await ReadToEndAsync(await source.OpenRangeAsync(address, content.Length + beyond, 100)));
    }

    /// <summary>A zero-length range.</summary>
    [Fact]
    public async Task OpenRangeAsync_ZeroLength_YieldsNothing()
    {
        var (source, _, address) = await CreateWithLargeBlobAsync();
        Assert.Empty(await ReadToEndAsync(await source.OpenRangeAsync(address, 10, 0)));
    }

    /// <summary>Negative offsets and lengths are refused.</summary>
    [Theory]
    [InlineData(-1, 10)]
    [InlineData(0, -1)]
    [InlineData(long.MinValue, 1)]
    public async Task OpenRangeAsync_NegativeOffsetOrLength_ThrowsArgumentOutOfRange(long offset, long length)
    {
        var (source, _, address) = await CreateWithLargeBlobAsync();
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => source.OpenRangeAsync(address, offset, length));
    }

    /// <summary>A ranged read of a missing blob.</summary>
    [Fact]
    public async Task OpenRangeAsync_MissingBlob_ThrowsBlobNotFound()
    {
        var (source, _, _) = await CreateWithLargeBlobAsync();
        await Assert.ThrowsAsync<BlobNotFoundException>(async () => await ReadToEndAsync(await source.OpenRangeAsync(new BlobAddress(string.Empty, MissingDigest), 0, 10)));
    }

    /// <summary>Many ranged reads at once see consistent bytes.</summary>
    [Fact]
    public async Task ReadRangeAsync_Concurrent_AllRangesCorrect()
    {
        var (source, content, address) = await CreateWithLargeBlobAsync();
        const int Chunk = 16 * 1024;
        var tasks = Enumerable.Range(0, (content.Length + Chunk - 1) / Chunk).Select(async i =>
        {
            byte[] buffer = new byte[Chunk];
            int n = await source.ReadRangeAsync(address, (long)i * Chunk, buffer);
            Assert.Equal(content.AsSpan(i * Chunk, Math.Min(Chunk, content.Length - (i * Chunk))).ToArray(), buffer[..n]);
        });
        await Task.WhenAll(tasks);
    }

    /// <summary>Existence, when the source offers it.</summary>
    [Fact]
    public async Task ExistsAsync_WhenSupported_TellsStoredFromMissing()
    {
        var (source, content, address) = await CreateWithLargeBlobAsync();
        if (source is not IBlobExistence existence)
        {
            return;
        }

        Assert.True(await existence.ExistsAsync(address));
        Assert.True(await existence.ExistsAsync(address with { Size = -1 }));
        Assert.False(await existence.ExistsAsync(new BlobAddress(string.Empty, MissingDigest)));
        Assert.False(await existence.ExistsAsync(address with { Size = content.Length + 1 }));
    }
}
