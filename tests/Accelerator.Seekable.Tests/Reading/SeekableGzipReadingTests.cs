using Accelerator.Chunks.Caching;
using Accelerator.Oci.Layers;
using Accelerator.Seekable.Gzip;
using Accelerator.Seekable.Reading;
using Accelerator.Seekable.Tests.Gzip;
using Accelerator.Testing.Images;

namespace Accelerator.Seekable.Tests.Reading;

/// <summary>
/// Reading files of a real Debian layer (the layered corpus image's package layer, 9 MB of gzip) through its gzip index:
/// a read fetches exactly the compressed ranges of the spans holding the file, and the bytes are the tar's.
/// </summary>
public sealed class SeekableGzipReadingTests(SeekableGzipReadingTests.PackageLayer package) : IClassFixture<SeekableGzipReadingTests.PackageLayer>, IDisposable
{
    private const int SpanSize = 1 << 20;
    private readonly string _directory = Directory.CreateTempSubdirectory("accel-seekable-gzip-").FullName;
    private ChunkCache? _cache;

    public void Dispose()
    {
        _cache?.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Theory]
    [InlineData("/usr/bin/python3.11")]
    [InlineData("/usr/lib/x86_64-linux-gnu/libcrypto.so.3")]
    [InlineData("/etc/python3.11/sitecustomize.py")]
    public async Task ReadAsync_FileOfARealLayer_FetchesOnlyTheSpansHoldingIt(string path)
    {
        var (layer, index, blob) = await package.GetAsync();
        _cache = ChunkCache.Open(new ChunkCacheOptions { Directory = Path.Combine(_directory, "cache") });
        var source = new RecordingBlobSource();
        source.Add(blob);
        var forest = new SeekableForest([index]);
        var reader = new SeekableContentReader(forest, [(source, new BlobAddress("corpus/layered", index.Layer.Digest, index.Layer.Size))], _cache, new SeekableReaderOptions());
        ulong inode = forest.FindPath(0, path) ?? throw new Xunit.Sdk.XunitException($"The layer has no {path}.");
        var entry = forest.FileOf(inode)!.Value.Entry;
        byte[] expected = await ContentOfAsync(layer.Path, path);

        byte[] read = new byte[entry.Header.Size];
        for (int done = 0; done < read.Length;)
        {
            done += await reader.ReadAsync(inode, done, read.AsMemory(done, Math.Min(128 << 10, read.Length - done)), CancellationToken.None);
        }

        Assert.Equal(expected, read);
        int first = index.FindUnit(entry.DataOffset);
        int last = index.FindUnit(entry.DataOffset + entry.Header.Size - 1);
        long start = index.Units[first].CompressedOffset;
        long end = index.Units[last].CompressedOffset + index.Units[last].CompressedLength;
        Assert.All(source.Ranges, r => Assert.True(r.Offset >= start && r.Offset + r.Length <= end, $"{r} outside the spans [{start}, {end})"));
        Assert.True(source.Ranges.Sum(r => r.Length) <= end - start + (last - first));
        Assert.True(end - start < blob.Length / 2);
    }

    private static async Task<byte[]> ContentOfAsync(string blobPath, string path)
    {
        await using var blob = File.OpenRead(blobPath);
        await using var tar = LayerStreams.OpenDecompressed(blob, null, long.MaxValue, leaveOpen: true);
        await using var reader = new LayerTarReader(tar, leaveOpen: true);
        while (await reader.ReadNextAsync() is { } entry)
        {
            if ("/" + string.Join('/', SeekableLayerTree.SplitPath(entry.Header.Path)) == path && entry.Header.Kind == TarEntryKind.RegularFile)
            {
                var content = new MemoryStream();
                await entry.Data.CopyToAsync(content);
                return content.ToArray();
            }
        }

        throw new Xunit.Sdk.XunitException($"No {path} in the layer.");
    }

    /// <summary>The layered corpus image's package layer and its index at 1 MiB spans, built once for the class.</summary>
    public sealed class PackageLayer
    {
        private readonly Lazy<Task<(LayerFile, GzipLayerIndex, byte[])>> _layer = new(async () =>
        {
            var layers = await GzipTestLayers.CorpusLayersAsync(DebianImageCorpus.Layered);
            var layer = layers.Single(l => l.Descriptor.Size is > (4 << 20) and < (32 << 20));
            return (layer, await GzipTestLayers.BuildAsync(layer, SpanSize), await File.ReadAllBytesAsync(layer.Path));
        });

        internal Task<(LayerFile Layer, GzipLayerIndex Index, byte[] Blob)> GetAsync() => _layer.Value;
    }
}
