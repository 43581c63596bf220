// TEMPORARY: the design's signatures of the other helpers' types, so that the mount builds before their branches are
// merged. Deleted type by type as forest, gzip, toc and artifact are merged.
#pragma warning disable CS1591
using Accelerator.Chunks.Caching;
using Accelerator.Fuse.FileSystem;
using Accelerator.Oci;
using Accelerator.Oci.Model;
using Microsoft.Extensions.Logging;

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

