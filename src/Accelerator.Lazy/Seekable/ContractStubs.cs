// TEMPORARY: the design's signatures of the other helpers' types, so that the mount builds before their branches are
// merged. Deleted type by type as forest, gzip, toc and artifact are merged.
#pragma warning disable CS1591
using Accelerator.Chunks.Caching;
using Accelerator.Fuse.FileSystem;
using Accelerator.Oci;
using Accelerator.Oci.Model;
using Microsoft.Extensions.Logging;

namespace Accelerator.Seekable.Reading
{
    public sealed class SeekableForest : IChunkIndex
    {
        public SeekableForest(IReadOnlyList<SeekableLayerIndex> layers) => Layers = layers;
        public IReadOnlyList<SeekableLayerIndex> Layers { get; }
        public static string LayerDirectoryName(int layer) => layer.ToString(System.Globalization.CultureInfo.InvariantCulture);
        public (int Layer, SeekableEntry Entry)? FileOf(ulong inode) => throw new NotImplementedException();
        public ulong? FindPath(int layer, string path) => throw new NotImplementedException();
        public string? PathOf(ulong inode) => throw new NotImplementedException();
        public long InodeCount => 0;
        public FileEntry? GetEntry(ulong inode) => null;
        public FileEntry? Lookup(ulong parentInode, string name) => null;
        public IEnumerable<(string Name, FileEntry Entry)> ReadDirectory(ulong directoryInode) => [];
        public IReadOnlyList<ChunkLocation> GetChunks(ulong inode) => [];
    }

    public sealed class SeekableReaderOptions
    {
        public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromMinutes(2);
        public string SourceName { get; set; } = "origin";
        public int MaxRequestBytes { get; set; } = 8 << 20;
        public int MaxParallelRequests { get; set; } = 8;
    }

    public interface ISeekableReadObserver
    {
        void Read(ulong inode, long offset, int bytes);
        void Fetched(string source, long compressedBytes, int units);
        void CacheHit(int units);
        void VerificationFailed(SeekableUnit unit, string layer);
    }

    public sealed class SeekableContentReader : IFileContentReader
    {
        public SeekableContentReader(SeekableForest forest, IReadOnlyList<(IBlobSource Source, BlobAddress Address)> blobs,
            ChunkCache cache, SeekableReaderOptions options, ISeekableReadObserver? observer = null, ILogger? logger = null, TimeProvider? time = null)
        {
        }

        public ValueTask<int> ReadAsync(ulong inode, long offset, Memory<byte> buffer, CancellationToken cancellationToken) => throw new NotImplementedException();
        public Task PrefetchAsync(IEnumerable<ulong> inodes, CancellationToken cancellationToken) => throw new NotImplementedException();
        public void Prime(int layer, SeekableUnit unit, ReadOnlySpan<byte> verified) => throw new NotImplementedException();
    }
}

namespace Accelerator.Seekable.Stargz
{
    public sealed class EstargzLayerIndex : SeekableLayerIndex
    {
        public const string TocDigestAnnotation = "containerd.io/snapshot/stargz/toc.digest";
        private EstargzLayerIndex(Descriptor layer) : base(layer, [], []) { }
        public override string Format => "estargz";
        public static bool Claims(Descriptor layer) => false;
        public static Task<EstargzLayerIndex?> TryOpenAsync(IBlobSource blobs, BlobAddress address, Descriptor layer, CancellationToken cancellationToken = default) => throw new NotImplementedException();
        public override void Decode(int unitIndex, ReadOnlySpan<byte> encoded, Span<byte> destination) => throw new NotImplementedException();
    }
}

namespace Accelerator.Seekable.ZstdChunked
{
    public sealed class ZstdChunkedLayerIndex : SeekableLayerIndex
    {
        private ZstdChunkedLayerIndex(Descriptor layer) : base(layer, [], []) { }
        public override string Format => "zstd:chunked";
        public static bool Claims(Descriptor layer) => false;
        public static Task<ZstdChunkedLayerIndex?> TryOpenAsync(IBlobSource blobs, BlobAddress address, Descriptor layer, CancellationToken cancellationToken = default) => throw new NotImplementedException();
        public override void Decode(int unitIndex, ReadOnlySpan<byte> encoded, Span<byte> destination) => throw new NotImplementedException();
    }
}

