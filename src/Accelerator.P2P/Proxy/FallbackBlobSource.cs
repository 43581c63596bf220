namespace Accelerator.P2P.Proxy;

/// <summary>
/// Reads from a P2P source first and, when it fails to open a read (unreachable peer, error answer), from the next
/// source in the chain (mirrors, the origin registry): a dead peer costs a fallback, not a failed pull. A failure in
/// the middle of a stream is the caller's to retry; a whole read is verified by either source.
/// </summary>
public sealed class FallbackBlobSource : IBlobSource, IBlobExistence
{
    private readonly IBlobSource _primary;
    private readonly IBlobSource _fallback;
    private long _fallbacks;

    /// <summary>Creates the chain <paramref name="primary"/> → <paramref name="fallback"/>.</summary>
    public FallbackBlobSource(IBlobSource primary, IBlobSource fallback)
    {
        ArgumentNullException.ThrowIfNull(primary);
        ArgumentNullException.ThrowIfNull(fallback);
        _primary = primary;
        _fallback = fallback;
    }

    /// <summary>The source tried first.</summary>
    public IBlobSource Primary => _primary;

    /// <summary>The source used when the first one fails.</summary>
    public IBlobSource Fallback => _fallback;

    /// <summary>How many reads went to the fallback.</summary>
    public long Fallbacks => Interlocked.Read(ref _fallbacks);

    /// <inheritdoc />
    public async ValueTask<long> GetSizeAsync(BlobAddress blob, CancellationToken cancellationToken = default)
    {
        try
        {
            return await _primary.GetSizeAsync(blob, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsFallbackWorthy(ex, cancellationToken))
        {
            Interlocked.Increment(ref _fallbacks);
            return await _fallback.GetSizeAsync(blob, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async Task<Stream> OpenReadAsync(BlobAddress blob, CancellationToken cancellationToken = default)
    {
        try
        {
            return await _primary.OpenReadAsync(blob, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsFallbackWorthy(ex, cancellationToken))
        {
            Interlocked.Increment(ref _fallbacks);
            return await _fallback.OpenReadAsync(blob, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async Task<Stream> OpenRangeAsync(BlobAddress blob, long offset, long length, CancellationToken cancellationToken = default)
    {
        try
        {
            return await _primary.OpenRangeAsync(blob, offset, length, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsFallbackWorthy(ex, cancellationToken))
        {
            Interlocked.Increment(ref _fallbacks);
            return await _fallback.OpenRangeAsync(blob, offset, length, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async ValueTask<bool> ExistsAsync(BlobAddress blob, CancellationToken cancellationToken = default)
    {
        if (_fallback is IBlobExistence existence)
        {
            return await existence.ExistsAsync(blob, cancellationToken).ConfigureAwait(false);
        }

        try
        {
            await GetSizeAsync(blob, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (BlobNotFoundException)
        {
            return false;
        }
    }

    private static bool IsFallbackWorthy(Exception ex, CancellationToken cancellationToken)
        => !cancellationToken.IsCancellationRequested && ex is IOException or HttpRequestException or TimeoutException or OperationCanceledException;
}
