using Accelerator.Lazy.Statistics;

namespace Accelerator.Lazy.Seekable;

/// <summary>
/// One layer's blob source in a seekable mount: passes reads through and counts them into the layer's
/// <see cref="LazyLayerStatistics"/> (bytes as they arrive, ranged requests and whole reads).
/// </summary>
internal sealed class LayerBlobSource(IBlobSource inner, LazyLayerStatistics statistics) : IBlobSource
{
    public IBlobSource Inner => inner;

    public ValueTask<long> GetSizeAsync(BlobAddress blob, CancellationToken cancellationToken = default) => inner.GetSizeAsync(blob, cancellationToken);

    public async Task<Stream> OpenReadAsync(BlobAddress blob, CancellationToken cancellationToken = default)
    {
        statistics.AddWholeRead();
        return new Counted(await inner.OpenReadAsync(blob, cancellationToken).ConfigureAwait(false), statistics);
    }

    public async Task<Stream> OpenRangeAsync(BlobAddress blob, long offset, long length, CancellationToken cancellationToken = default)
    {
        statistics.AddRangeRequest();
        return new Counted(await inner.OpenRangeAsync(blob, offset, length, cancellationToken).ConfigureAwait(false), statistics);
    }

    private sealed class Counted(Stream stream, LazyLayerStatistics statistics) : CountingStream(stream)
    {
        protected override void OnRead(ReadOnlySpan<byte> data) => statistics.AddFetched(data.Length);
    }
}
