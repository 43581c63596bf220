using Accelerator.Lazy.Format;
using Accelerator.Lazy.Reading;
using Accelerator.Lazy.Tests.Support;

namespace Accelerator.Lazy.Tests.Reading;

public sealed class LazyFileReaderCorruptionTests : IAsyncLifetime
{
    private FetchTestImage _image = null!;

    public async Task InitializeAsync() => _image = await FetchTestImage.CreateInTempAsync();

    public Task DisposeAsync()
    {
        _image.Dispose();
        return Task.CompletedTask;
    }

    [Theory]
    [InlineData("/big/text.txt", 3)]
    [InlineData("/big/random.bin", 5)]
    public async Task ReadAsync_ChunkCorruptedInBlobStore_ErrorNeverWrongBytesNotCached(string path, int chunkIndex)
    {
        ulong inode = _image.Inode(path);
        ChunkLocation chunk = _image.Bootstrap.GetChunks(inode)[chunkIndex];
        byte[] original = FlipByte(chunk);
        var (reader, _, cache) = _image.NewReader(new LazyReaderOptions { ReadAheadBytes = 0 });
        using var _ = cache;
        byte[] buffer = new byte[100];
        Array.Fill(buffer, (byte)0xEE);

        var error = await Assert.ThrowsAnyAsync<Exception>(async () => await reader.ReadAsync(inode, chunk.FileOffset + 10, buffer));

        Assert.True(error is DigestMismatchException or InvalidDataException, error.ToString());
        Assert.All(buffer, b => Assert.Equal(0xEE, b));
        Assert.False(cache.Contains(chunk.ChunkDigest));
        Assert.Equal(1, reader.Statistics.ChunkErrors);
        Assert.False(File.Exists(cache.GetChunkPath(chunk.ChunkDigest)));

        // The neighbours are fine, and once the store is repaired a later read fetches the chunk again.
        Assert.Equal(100, await reader.ReadAsync(inode, 0, buffer));
        Assert.Equal(_image.Files[path][..100], buffer);
        File.WriteAllBytes(_image.BlobPath(chunk.Blob), original);
        Assert.Equal(100, await reader.ReadAsync(inode, chunk.FileOffset + 10, buffer));
        Assert.Equal(_image.Files[path].AsSpan((int)chunk.FileOffset + 10, 100).ToArray(), buffer);
    }

    [Fact]
    public async Task ReadAsync_CorruptChunkAmongMergedOnes_OnlyItFails()
    {
        ulong inode = _image.Inode("/big/random.bin");
        ChunkLocation bad = _image.Bootstrap.GetChunks(inode)[2];
        FlipByte(bad);
        var (reader, source, cache) = _image.NewReader();
        using var _ = cache;
        byte[] whole = new byte[_image.Files["/big/random.bin"].Length];

        await Assert.ThrowsAsync<DigestMismatchException>(async () => await reader.ReadAsync(inode, 0, whole));

        Assert.Equal(1, source.RangeCount);
        Assert.Equal(17, cache.GetStatistics().Chunks);
        Assert.False(cache.Contains(bad.ChunkDigest));
    }

    private byte[] FlipByte(ChunkLocation chunk)
    {
        string blob = _image.BlobPath(chunk.Blob);
        byte[] original = File.ReadAllBytes(blob);
        byte[] corrupted = [.. original];
        corrupted[chunk.CompressedOffset + (chunk.CompressedSize / 2)] ^= 0x01;
        File.WriteAllBytes(blob, corrupted);
        return original;
    }
}
