using System.Buffers;
using System.Text;
using Accelerator.Oci.Copying;
using Accelerator.P2P.Protocol;
using Accelerator.Hosting.Metrics;
using Microsoft.AspNetCore.Http;

namespace Accelerator.P2P.Peers;

/// <summary>
/// The peer's piece API (<c>GET /p2p/v1/tasks/{digest}/pieces/{index}</c>, plus <c>/healthz</c> and <c>/metrics</c>):
/// serves a piece only to a holder of a token the scheduler issued for its task, only bytes that match the digest
/// recorded when the piece was stored, within the upload slots and the upload bandwidth limit.
/// </summary>
internal sealed class PieceServer : IDisposable
{
    private const int UploadChunk = 64 * 1024;

    private readonly P2PPeerOptions _options;
    private readonly PieceStore _store;
    private readonly SchedulerRegistration _registration;
    private readonly PeerCounters _counters;
    private readonly Func<string> _formatMetrics;
    private readonly SemaphoreSlim _uploadSlots;
    private readonly BandwidthLimiter? _uploadLimiter;

    public PieceServer(P2PPeerOptions options, PieceStore store, SchedulerRegistration registration, PeerCounters counters, Func<string> formatMetrics, TimeProvider time)
    {
        _options = options;
        _store = store;
        _registration = registration;
        _counters = counters;
        _formatMetrics = formatMetrics;
        _uploadSlots = new SemaphoreSlim(options.UploadSlots, options.UploadSlots);
        // Uploads start with a burst of a tenth of a second (at least 64 KiB) that passes unshaped; 0 is unlimited.
        _uploadLimiter = options.UploadBytesPerSecond > 0
            ? new BandwidthLimiter(options.UploadBytesPerSecond, Math.Max(64 * 1024, options.UploadBytesPerSecond / 10), time, startFull: true)
            : null;
    }

    /// <summary>Upload slots free now (told to the schedulers with each heartbeat).</summary>
    public int FreeUploadSlots => _uploadSlots.CurrentCount;

    /// <summary>The piece API: <c>GET /p2p/v1/tasks/{digest}/pieces/{index}</c> with the task token, plus health and metrics.</summary>
    public async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        string path = request.Path.Value ?? "/";
        if (!HttpMethods.IsGet(request.Method))
        {
            context.Response.Headers.Allow = "GET";
            await TextAsync(context, StatusCodes.Status405MethodNotAllowed, "method not allowed\n").ConfigureAwait(false);
            return;
        }

        if (path == "/healthz")
        {
            await TextAsync(context, StatusCodes.Status200OK, "ok\n").ConfigureAwait(false);
            return;
        }

        if (path == "/metrics")
        {
            context.Response.ContentType = PrometheusText.ContentType;
            await context.Response.WriteAsync(_formatMetrics(), context.RequestAborted).ConfigureAwait(false);
            return;
        }

        if (!P2PProtocol.TryParsePiecePath(path, out var task, out int index))
        {
            await TextAsync(context, StatusCodes.Status404NotFound, "not found\n").ConfigureAwait(false);
            return;
        }

        await ServePieceAsync(context, task, index).ConfigureAwait(false);
    }

    private async Task ServePieceAsync(HttpContext context, Digest task, int index)
    {
        // No token, no bytes: the token must be one the scheduler issued this peer for this very task, not yet expired.
        if (!_registration.Sessions.TryGetValue(task, out var session) || !session.Tokens.Accepts(context.Request.Headers[P2PProtocol.TokenHeader].ToString()))
        {
            Interlocked.Increment(ref _counters.UploadsForbidden);
            await TextAsync(context, StatusCodes.Status403Forbidden, "a valid task token is required\n").ConfigureAwait(false);
            return;
        }

        if (index >= session.PieceCount)
        {
            await TextAsync(context, StatusCodes.Status404NotFound, "no such piece\n").ConfigureAwait(false);
            return;
        }

        if (!await _uploadSlots.WaitAsync(0, context.RequestAborted).ConfigureAwait(false))
        {
            Interlocked.Increment(ref _counters.UploadsBusy);
            context.Response.Headers.RetryAfter = "1";
            await TextAsync(context, StatusCodes.Status503ServiceUnavailable, "every upload slot is busy\n").ConfigureAwait(false);
            return;
        }

        byte[]? buffer = null;
        try
        {
            // A piece in the memory cache is served from there without a copy (verified on arrival, never written since);
            // one read from disk is checked against what was recorded when it was stored: a byte that does not match is
            // never served.
            var digest = _store.GetDigest(task, session.PieceSize, index);
            ReadOnlyMemory<byte> data = default;
            bool held = digest is not null && (_store.TryGetCached(task, session.PieceSize, index, out data)
                || _store.TryRead(task, session.PieceSize, index, buffer = ArrayPool<byte>.Shared.Rent(Math.Max(1, session.PieceSize)), out data));
            if (!held)
            {
                await TextAsync(context, StatusCodes.Status404NotFound, "piece not held\n").ConfigureAwait(false);
                return;
            }

            int length = data.Length;
            context.Response.StatusCode = StatusCodes.Status200OK;
            context.Response.ContentType = "application/octet-stream";
            context.Response.ContentLength = length;
            context.Response.Headers[P2PProtocol.PieceDigestHeader] = digest!.Value.Value;
            if (_options.UploadBytesPerSecond == 0)
            {
                await context.Response.Body.WriteAsync(data, context.RequestAborted).ConfigureAwait(false);
                Interlocked.Add(ref _counters.BytesUploaded, length);
            }
            else
            {
                for (int offset = 0; offset < length; offset += UploadChunk)
                {
                    int n = Math.Min(UploadChunk, length - offset);
                    if (_uploadLimiter is not null)
                    {
                        await _uploadLimiter.AcquireAsync(n, context.RequestAborted).ConfigureAwait(false);
                    }

                    await context.Response.Body.WriteAsync(data.Slice(offset, n), context.RequestAborted).ConfigureAwait(false);
                    Interlocked.Add(ref _counters.BytesUploaded, n);
                }
            }

            Interlocked.Increment(ref _counters.PiecesUploaded);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The child went away.
        }
        finally
        {
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }

            _uploadSlots.Release();
        }
    }

    private static Task TextAsync(HttpContext context, int status, string text)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/plain; charset=utf-8";
        context.Response.ContentLength = Encoding.UTF8.GetByteCount(text);
        return context.Response.WriteAsync(text, context.RequestAborted);
    }

    /// <summary>Releases the upload slots.</summary>
    public void Dispose() => _uploadSlots.Dispose();
}
