using Accelerator.Chunks.Caching;
using Accelerator.Lazy.Conversion;
using Accelerator.Lazy.Format;
using Accelerator.Lazy.Reading;
using Accelerator.Lazy.Statistics;
using Accelerator.Lazy.Tests.Support;
using Accelerator.Oci.Layout;
using Accelerator.Oci.Registry;
using Accelerator.Testing.Registry;

namespace Accelerator.Lazy.Tests.Reading;

/// <summary>The fetch path against a real docker-registry: ranged reads over HTTP.</summary>
public sealed class LazyFileReaderRegistryTests : IAsyncLifetime
{
    private FetchTestImage _image = null!;
    private DockerRegistryProcess _registry = null!;

    public async Task InitializeAsync()
    {
        _registry = await DockerRegistryProcess.StartAsync();
        _image = await FetchTestImage.CreateInTempAsync();
    }

    public async Task DisposeAsync()
    {
        await _registry.DisposeAsync();
        _image.Dispose();
    }

    [Fact]
    public async Task ReadAsync_LazyImageInRegistry_RangedReadsOverHttpMatchOriginal()
    {
        using var client = new RegistryClient(new RegistryOptions { PlainHttp = true });
        var store = client.GetStore(_registry.Host);
        var source = ImageReference.Parse($"oci:{Path.Combine(_image.Directory, "source")}:v1");
        var target = ImageReference.Parse($"{_registry.Host}/fetch/test:v1-accel");
        await LazyConverter.ConvertAsync(OciImageLayout.Open(source.LayoutPath!), source, store, target, new LazyConvertOptions { ChunkSize = FetchTestImage.ChunkSize });
        LazyImage image = await LazyImage.LoadAsync(store, target);
        using var cache = ChunkCache.Open(new ChunkCacheOptions { Directory = _image.NewCacheDirectory() });
        var statistics = new LazyMountStatistics();
        var reader = LazyFileReader.Create(image, cache, statistics: statistics);

        var reads = _image.Files.Select(f => Task.Run(async () => (f.Key, Content: await FetchTestImage.ReadAllAsync(reader, image.Bootstrap.LookupPath(f.Key)!.Inode, 40_000)))).ToArray();
        foreach (var (path, content) in await Task.WhenAll(reads))
        {
            Assert.Equal(_image.Files[path], content);
        }

        long stored = image.Bootstrap.ChunkBytes;
        Assert.InRange(statistics.Mount.BytesFetchedBySource["origin"], stored, stored + (image.Bootstrap.ChunkCount * (long)reader.Options.MergeGapBytes));
        Assert.Equal(image.Bootstrap.ChunkCount, statistics.Mount.ChunksFetched);
        Assert.True(statistics.RangeRequests < image.Bootstrap.ChunkCount, $"{statistics.RangeRequests} requests for {image.Bootstrap.ChunkCount} chunks");

        // A chunk corrupted in the registry's storage is refused, never served.
        ulong inode = image.Bootstrap.LookupPath("/big/text.txt")!.Inode;
        ChunkLocation chunk = image.Bootstrap.GetChunks(inode)[1];
        string data = Path.Combine(_registry.StoragePath, "docker/registry/v2/blobs/sha256", chunk.Blob.Encoded[..2], chunk.Blob.Encoded, "data");
        byte[] bytes = File.ReadAllBytes(data);
        bytes[chunk.CompressedOffset + 7] ^= 0x80;
        File.WriteAllBytes(data, bytes);
        using var freshCache = ChunkCache.Open(new ChunkCacheOptions { Directory = _image.NewCacheDirectory() });
        var fresh = LazyFileReader.Create(image, freshCache);
        var error = await Assert.ThrowsAnyAsync<Exception>(async () => await fresh.ReadAsync(inode, chunk.FileOffset, new byte[10]));
        Assert.True(error is DigestMismatchException or InvalidDataException, error.ToString());
        Assert.Equal(1, fresh.Statistics.ChunkErrors);
        Assert.False(freshCache.Contains(chunk.ChunkDigest));
    }
}
