namespace Accelerator.Chunks.Statistics;

/// <summary>
/// Counts the bytes read through a blob source, under a source name, into <see cref="MountStatistics.BytesFetchedBySource"/>:
/// wrap each source of a chain (origin, a mirror, the P2P peers) in one, and the statistics tell what each served.
/// Bytes are counted as they are read from the streams, so a request abandoned early counts only what arrived.
/// </summary>
public sealed class CountingBlobSource : IBlobSource, IBlobExistence
{
    private readonly IBlobSource _inner;
    private readonly MountStatistics _statistics;

    /// <summary>Wraps <paramref name="inner"/>, counting under <paramref name="sourceName"/> into <paramref name="statistics"/>.</summary>
    public CountingBlobSource(IBlobSource inner, string sourceName, MountStatistics statistics)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentException.ThrowIfNullOrWhiteSpace(sourceName);
        ArgumentNullException.ThrowIfNull(statistics);
        _inner = inner;
        _statistics = statistics;
        SourceName = sourceName;
    }

    /// <summary>The name bytes are counted under.</summary>
    public string SourceName { get; }

    /// <summary>The wrapped source.</summary>
    public IBlobSource Inner => _inner;

    /// <inheritdoc />
    public ValueTask<long> GetSizeAsync(BlobAddress blob, CancellationToken cancellationToken = default) => _inner.GetSizeAsync(blob, cancellationToken);

    /// <inheritdoc />
    public async Task<Stream> OpenReadAsync(BlobAddress blob, CancellationToken cancellationToken = default)
        => new CountingSourceStream(await _inner.OpenReadAsync(blob, cancellationToken).ConfigureAwait(false), this);

    /// <inheritdoc />
    public async Task<Stream> OpenRangeAsync(BlobAddress blob, long offset, long length, CancellationToken cancellationToken = default)
        => new CountingSourceStream(await _inner.OpenRangeAsync(blob, offset, length, cancellationToken).ConfigureAwait(false), this);

    /// <inheritdoc />
    public ValueTask<bool> ExistsAsync(BlobAddress blob, CancellationToken cancellationToken = default)
        => _inner is IBlobExistence existence ? existence.ExistsAsync(blob, cancellationToken) : ExistsBySizeAsync(blob, cancellationToken);

    private async ValueTask<bool> ExistsBySizeAsync(BlobAddress blob, CancellationToken cancellationToken)
    {
        try
        {
            await _inner.GetSizeAsync(blob with { Size = -1 }, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (BlobNotFoundException)
        {
            return false;
        }
    }

    private void Count(int bytes)
    {
        if (bytes > 0)
        {
            _statistics.AddFetched(SourceName, bytes);
        }
    }

    private sealed class CountingSourceStream(Stream inner, CountingBlobSource owner) : CountingStream(inner)
    {
        protected override void OnRead(ReadOnlySpan<byte> data) => owner.Count(data.Length);
    }
}
