namespace Accelerator.Oci.Mirrors;

/// <summary>
/// A streaming range from one host: each read must bring bytes within the stall timeout (a host that stops sending is
/// reported and the read fails, rather than hanging); counts the bytes to the host and holds its in-flight count until
/// disposed.
/// </summary>
internal sealed class StallGuardedStream(Stream inner, MirrorSet set, MirrorRoute route, MirrorHost.Scope scope, CancellationTokenSource stall) : ReadOnlyStream
{
    // The stall guard is a cancellation timer, so synchronous reads go through the asynchronous path.
    public override int Read(Span<byte> buffer) => ReadThroughAsync(buffer);

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stall.Token);
        stall.CancelAfter(set.Options.StallTimeout);
        try
        {
            int n = await inner.ReadAsync(buffer, linked.Token).ConfigureAwait(false);
            stall.CancelAfter(Timeout.InfiniteTimeSpan);
            set.CountBytes(route, n);
            return n;
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && ex is IOException or HttpRequestException or OperationCanceledException)
        {
            string reason = stall.IsCancellationRequested ? "stalled" : "error";
            set.ReportFailure(route, reason, ex);
            throw new IOException($"Range read from {route.SourceName} failed ({reason}): {ex.Message}", ex);
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
            scope.Dispose();
            stall.Dispose();
        }

        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await inner.DisposeAsync().ConfigureAwait(false);
        scope.Dispose();
        stall.Dispose();
        await base.DisposeAsync().ConfigureAwait(false);
    }
}
