using Accelerator.Chunks.Caching;
using Accelerator.Fuse;
using Accelerator.Fuse.FileSystem;
using Accelerator.Linux;
using Accelerator.Seekable.Reading;

namespace Accelerator.Seekable.Tests.Reading;

/// <summary>A forest of layers over a real FUSE mount, with a read-only kernel overlay of its layer directories.</summary>
internal sealed class MountedForest : IAsyncDisposable
{
    private FuseMount? _fuse;
    private bool _overlay;

    private MountedForest(string root, SeekableForest forest, RecordingBlobSource source, ChunkCache cache)
    {
        Root = root;
        Forest = forest;
        Source = source;
        Cache = cache;
        Lower = Directory.CreateDirectory(Path.Combine(root, "lower")).FullName;
        Merged = Directory.CreateDirectory(Path.Combine(root, "merged")).FullName;
    }

    public string Root { get; }

    public string Lower { get; }

    public string Merged { get; }

    public SeekableForest Forest { get; }

    public RecordingBlobSource Source { get; }

    public ChunkCache Cache { get; }

    public static async Task<MountedForest> MountAsync(string directory, (SeekableLayerIndex Index, byte[] Blob)[] layers)
    {
        var source = new RecordingBlobSource();
        var indexes = layers.Select(l => l.Index).ToList();
        foreach (var (_, blob) in layers)
        {
            source.Add(blob);
        }

        var forest = new SeekableForest(indexes);
        var cache = ChunkCache.Open(new ChunkCacheOptions { Directory = Path.Combine(directory, "cache") });
        var mounted = new MountedForest(directory, forest, source, cache);
        try
        {
            var reader = new SeekableContentReader(
                forest, [.. indexes.Select(i => ((IBlobSource)source, new BlobAddress("test/forest", i.Layer.Digest, i.Layer.Size)))], cache,
                new SeekableReaderOptions { SourceName = "memory" });
            mounted._fuse = await FuseMount.MountAsync(mounted.Lower, new ChunkIndexFileSystem(forest, reader));

            // Topmost first: MOUNT/N-1 … MOUNT/0.
            var lowers = Enumerable.Range(0, layers.Length).Reverse().Select(i => Path.Combine(mounted.Lower, SeekableForest.LayerDirectoryName(i))).ToList();
            OverlayMount.Mount(lowers, null, null, mounted.Merged);
            mounted._overlay = true;
            return mounted;
        }
        catch
        {
            await mounted.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_overlay)
        {
            FileSystemMount.Unmount(Merged);
        }

        if (_fuse is not null)
        {
            await _fuse.DisposeAsync();
        }

        Cache.Dispose();
    }
}
