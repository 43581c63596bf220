using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using Accelerator.P2P.Protocol;
using Microsoft.Extensions.Logging;

namespace Accelerator.P2P.Peers;

/// <summary>No scheduler on the ring answered: the read goes straight to the registry.</summary>
internal sealed class NoSchedulerException(string message) : Exception(message);

/// <summary>A task as this peer joined it: the scheduler it talks to, the token and the geometry.</summary>
internal sealed record TaskSession(Digest Task, Uri Scheduler, string Token, long Size, int PieceSize, int PieceCount, string Registry)
{
    /// <summary>The task's tokens: the registration's <see cref="Token"/> and the renewals that followed it.</summary>
    public required TaskTokens Tokens { get; init; }

    public long PieceOffset(int index) => (long)index * PieceSize;

    public int PieceLength(int index) => (int)Math.Min(PieceSize, Size - PieceOffset(index));
}

/// <summary>The session's scheduler failed or forgot the task; register again (skipping <see cref="Failed"/>).</summary>
internal sealed class SessionChangedException(Uri? failed) : Exception("The task's scheduler changed.")
{
    public Uri? Failed { get; } = failed;
}

/// <summary>
/// Reads through P2P: a whole blob streamed while its pieces arrive (<see cref="BlobReadStream"/>) or a range from the
/// pieces that cover it; asks the task's scheduler which pieces to fetch from which parents (long polls), fetches them
/// (several at once, each checked against its digest), goes back to the registry for the pieces the scheduler assigns
/// it, and falls back to the registry when no scheduler answers.
/// </summary>
internal sealed class PieceDownloader : IDisposable
{
    private const int MaxSchedulerAttempts = 8;
    private const int MaxOriginFailures = 3;
    private static readonly TimeSpan BusyBackoff = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan MinPollDelay = TimeSpan.FromMilliseconds(1);

    private readonly P2PPeerOptions _options;
    private readonly PieceStore _store;
    private readonly SchedulerRegistration _registration;
    private readonly PieceReporter _reporter;
    private readonly HttpClient _http;
    private readonly PeerCounters _counters;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Func<string> _peerId;
    private readonly SemaphoreSlim _downloadSlots;
    private readonly ConcurrentDictionary<Digest, long> _originPieces = new();

    public PieceDownloader(
        P2PPeerOptions options, PieceStore store, SchedulerRegistration registration, PieceReporter reporter, HttpClient http, PeerCounters counters, ILogger logger, TimeProvider time, Func<string> peerId, CancellationToken stopping)
    {
        _options = options;
        _store = store;
        _registration = registration;
        _reporter = reporter;
        _http = http;
        _counters = counters;
        _logger = logger;
        _time = time;
        _peerId = peerId;
        Stopping = stopping;
        _downloadSlots = new SemaphoreSlim(options.DownloadSlots, options.DownloadSlots);
    }

    internal PieceStore Store => _store;

    internal PeerCounters Counters => _counters;

    internal ILogger Logger => _logger;

    internal PieceReporter Reporter => _reporter;

    internal SchedulerRegistration Registration => _registration;

    /// <summary>Cancelled when the peer stops.</summary>
    internal CancellationToken Stopping { get; }

    private string PeerId => _peerId();

    // How long a schedule request asks the scheduler to hold an empty answer: well inside the request timeout.
    private int LongPollMs => (int)Math.Clamp(_options.SchedulerTimeout.TotalMilliseconds / 2, 0, 2_000);

    // Longer than a scheduler needs to forget a crashed peer holding a back-to-source lease (its TTL, 10 s by default).
    private TimeSpan StallTimeout => TimeSpan.FromSeconds(Math.Max(60, 2 * _options.PieceTimeout.TotalSeconds));

    /// <summary>
    /// Opens the whole blob through P2P, streamed while its pieces arrive (see <see cref="BlobReadStream"/>): each piece
    /// checked before it is yielded, the blob digest checked before its last byte is.
    /// </summary>
    public async Task<Stream> OpenBlobAsync(PeerBlobSource source, BlobAddress blob, CancellationToken cancellationToken)
    {
        if (_registration.Ring is null)
        {
            return await source.Origin.OpenReadAsync(blob, cancellationToken).ConfigureAwait(false);
        }

        try
        {
            var session = await GetSessionAsync(source, blob, cancellationToken).ConfigureAwait(false);
            if (blob.HasSize && blob.Size != session.Size)
            {
                // Like every whole read: the mismatch surfaces from the read, and no byte is yielded.
                return new VerifyingStream(Stream.Null, blob.Digest, blob.Size, $"P2P ({source.Registry}): the blob is {session.Size} bytes");
            }

            return new BlobReadStream(this, source, blob, session, _store.Pin(session.Task, session.PieceSize));
        }
        catch (NoSchedulerException ex)
        {
            Interlocked.Increment(ref _counters.OriginFallbacks);
            PeerLog.OriginFallback(_logger, blob.Digest, ex.Message);
            return await source.Origin.OpenReadAsync(blob, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Opens a range through P2P, fetching only the pieces that cover it.</summary>
    public async Task<Stream> OpenRangeAsync(PeerBlobSource source, BlobAddress blob, long offset, long length, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (_registration.Ring is null)
        {
            return await source.Origin.OpenRangeAsync(blob, offset, length, cancellationToken).ConfigureAwait(false);
        }

        try
        {
            var session = await GetSessionAsync(source, blob, cancellationToken).ConfigureAwait(false);
            if (offset >= session.Size || length == 0)
            {
                return Stream.Null;
            }

            long end = Math.Min(session.Size, offset + Math.Min(length, session.Size));
            int first = (int)(offset / session.PieceSize);
            int last = (int)((end - 1) / session.PieceSize);
            var wanted = Enumerable.Range(first, last - first + 1).ToArray();
            var pin = _store.Pin(session.Task, session.PieceSize, wanted);
            try
            {
                session = await EnsurePiecesAsync(source, blob, session, wanted, cancellationToken).ConfigureAwait(false);
                var stream = new PieceReadStream(_store, session, offset, end, pin);
                pin = null;
                return stream;
            }
            finally
            {
                pin?.Dispose();
            }
        }
        catch (NoSchedulerException ex)
        {
            Interlocked.Increment(ref _counters.OriginFallbacks);
            PeerLog.OriginFallback(_logger, blob.Digest, ex.Message);
            return await source.Origin.OpenRangeAsync(blob, offset, length, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The session for the blob's task, registering (at the first live scheduler on the ring) when there is none, or
    /// when this source's credential has not yet been checked for the blob: a peer shared by several clients (a proxy)
    /// serves a client's read only after the scheduler confirmed at the registry that the client's credential may read it.
    /// </summary>
    private async Task<TaskSession> GetSessionAsync(PeerBlobSource source, BlobAddress blob, CancellationToken cancellationToken)
        => _registration.TryGetCheckedSession(source, blob)
            ?? await RegisterAsync(source, blob, null, cancellationToken).ConfigureAwait(false);

    /// <summary>Registers the task (see <see cref="SchedulerRegistration.RegisterAsync"/>) and tells the scheduler which of its pieces are here.</summary>
    private async Task<TaskSession> RegisterAsync(PeerBlobSource source, BlobAddress blob, Uri? failed, CancellationToken cancellationToken)
    {
        var session = await _registration.RegisterAsync(source, blob, failed, cancellationToken).ConfigureAwait(false);
        await _reporter.AnnounceHeldAsync(session, cancellationToken).ConfigureAwait(false);
        return session;
    }

    /// <summary>
    /// Fetches the wanted pieces (every piece when <paramref name="wanted"/> is null) the store lacks, keeping up to
    /// <see cref="P2PPeerOptions.DownloadSlots"/> in flight; returns the session in force at the end (it changes when
    /// the scheduler fails over).
    /// </summary>
    internal async Task<TaskSession> EnsurePiecesAsync(PeerBlobSource source, BlobAddress blob, TaskSession session, int[]? wanted, CancellationToken cancellationToken)
    {
        wanted ??= Enumerable.Range(0, session.PieceCount).ToArray();
        var inFlight = new Dictionary<int, Task<PieceResult[]>>();
        var originFailures = new Dictionary<int, int>();
        int schedulerAttempts = 0;
        long lastProgress = _time.GetTimestamp();
        long pollAfter = 0;
        int stored = -1;
        Task<ScheduleResponse>? pending = null;
        using var polls = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            while (true)
            {
                var missing = wanted.Where(i => !_store.Contains(session.Task, session.PieceSize, i)).ToList();
                if (missing.Count == 0 && inFlight.Count == 0)
                {
                    if (pending is not null)
                    {
                        // Another read stored the pieces meanwhile: release whatever the last poll was granted.
                        await polls.CancelAsync().ConfigureAwait(false);
                        await _reporter.ReleaseAsync(session, pending).ConfigureAwait(false);
                    }

                    return session;
                }

                // Nothing stored for too long (every source of a piece refuses or keeps failing): one clear error, no spin.
                if (missing.Count != stored)
                {
                    stored = missing.Count;
                    lastProgress = _time.GetTimestamp();
                }
                else if (inFlight.Count == 0 && _time.GetElapsedTime(lastProgress) > StallTimeout)
                {
                    throw new IOException($"No piece of {session.Task} could be fetched for {StallTimeout} ({missing.Count} missing).");
                }

                int free = _options.DownloadSlots - inFlight.Count;
                if (pending is null && free > 0 && _time.GetTimestamp() >= pollAfter)
                {
                    var ask = missing.Where(i => !inFlight.ContainsKey(i)).Take(P2PProtocol.MaxPiecesPerRequest).ToList();
                    if (ask.Count > 0)
                    {
                        // Long poll: the scheduler holds an empty answer until a piece or a lease frees up, while the fetches
                        // in flight go on here and are reported on their own requests.
                        var request = new ScheduleRequest { PeerId = PeerId, MaxPieces = free, Wanted = ask, WaitMs = LongPollMs };
                        var asked = session;
                        pending = _registration.CallSchedulerAsync(asked, s => _registration.Client.PostAsync<ScheduleRequest, ScheduleResponse>(
                            s.Scheduler, P2PProtocol.TaskPath(s.Task, "schedule"), request, polls.Token));
                    }
                }

                var waits = new List<Task>(inFlight.Values);
                if (pending is not null)
                {
                    waits.Add(pending);
                }
                else if (pollAfter > _time.GetTimestamp() && inFlight.Count < _options.DownloadSlots)
                {
                    // Backing off from an older scheduler's empty answer.
                    var delay = TimeSpan.FromTicks((pollAfter - _time.GetTimestamp()) * TimeSpan.TicksPerSecond / _time.TimestampFrequency);
                    waits.Add(Task.Delay(delay > MinPollDelay ? delay : MinPollDelay, _time, cancellationToken));
                }

                if (waits.Count == 0)
                {
                    waits.Add(Task.Delay(TimeSpan.FromMilliseconds(10), _time, cancellationToken)); // defensive: never spin
                }

                await Task.WhenAny(waits).ConfigureAwait(false);
                cancellationToken.ThrowIfCancellationRequested();
                if (pending is { IsCompleted: true } answered)
                {
                    pending = null;
                    ScheduleResponse answer;
                    try
                    {
                        answer = await answered.ConfigureAwait(false);
                    }
                    catch (SessionChangedException changed)
                    {
                        if (++schedulerAttempts > MaxSchedulerAttempts)
                        {
                            throw new NoSchedulerException("the schedulers keep failing");
                        }

                        session = await RegisterAsync(source, blob, changed.Failed, cancellationToken).ConfigureAwait(false);
                        continue;
                    }

                    foreach (var piece in answer.Pieces)
                    {
                        if (piece.Index < session.PieceCount && !inFlight.ContainsKey(piece.Index))
                        {
                            var current = session;
                            inFlight[piece.Index] = FetchPieceAsync(source, blob, current, piece, cancellationToken);
                        }
                    }

                    if (answer.Token is { } renewed && renewed.TaskId == session.Task.Value)
                    {
                        session.Tokens.Add(renewed.Token, renewed.ExpiresInMs);
                    }

                    // An older scheduler answers at once: then ask again only after the delay it asks for.
                    pollAfter = answer.Pieces.Count > 0 || answer.LongPolled
                        ? 0
                        : _time.GetTimestamp() + Math.Max(1, answer.RetryAfterMs) * _time.TimestampFrequency / 1000;
                }

                var results = new List<PieceResult>();
                foreach (var (index, task) in inFlight.Where(p => p.Value.IsCompleted).ToList())
                {
                    inFlight.Remove(index);
                    results.AddRange(await task.ConfigureAwait(false));
                }

                foreach (var failed in results.Where(r => r.Failure == PieceFailure.Origin))
                {
                    // The registry itself keeps failing this piece: give up rather than loop.
                    if ((originFailures[failed.Index] = originFailures.GetValueOrDefault(failed.Index) + 1) >= MaxOriginFailures)
                    {
                        await _reporter.ReportQuietlyAsync(session, results).ConfigureAwait(false);
                        throw new IOException($"The registry failed to serve piece {failed.Index} of {session.Task} {MaxOriginFailures} times (see the log).");
                    }
                }

                if (results.Count > 0 && cancellationToken.IsCancellationRequested)
                {
                    // The outcomes of fetches the cancellation cut short still free their pieces at the scheduler.
                    await _reporter.ReportQuietlyAsync(session, results).ConfigureAwait(false);
                    cancellationToken.ThrowIfCancellationRequested();
                }

                if (results.Count > 0)
                {
                    try
                    {
                        await _reporter.ReportAsync(session, results, cancellationToken).ConfigureAwait(false);
                    }
                    catch (SessionChangedException changed)
                    {
                        session = await RegisterAsync(source, blob, changed.Failed, cancellationToken).ConfigureAwait(false);
                    }
                }
            }
        }
        finally
        {
            if (pending is not null)
            {
                await polls.CancelAsync().ConfigureAwait(false);
                await _reporter.ReleaseAsync(session, pending).ConfigureAwait(false);
            }

            if (inFlight.Count > 0)
            {
                // Cancelled or failed mid-way: let the fetches end so no buffer or slot outlives this call, and tell the
                // scheduler, so their leases do not keep the pieces from this peer's next read.
                var leftovers = new List<PieceResult>();
                foreach (var task in inFlight.Values)
                {
                    try
                    {
                        leftovers.AddRange(await task.ConfigureAwait(false));
                    }
                    catch (Exception ex) when (ex is OperationCanceledException or IOException or HttpRequestException)
                    {
                    }
                }

                await _reporter.ReportQuietlyAsync(session, leftovers).ConfigureAwait(false);
            }
        }
    }

    private async Task<PieceResult[]> FetchPieceAsync(PeerBlobSource source, BlobAddress blob, TaskSession session, PieceAssignment piece, CancellationToken cancellationToken)
    {
        await _downloadSlots.WaitAsync(cancellationToken).ConfigureAwait(false);
        int length = session.PieceLength(piece.Index);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Max(1, length));
        try
        {
            if (piece.FromOrigin)
            {
                return [await FetchFromOriginAsync(source, blob, session, piece.Index, buffer, length, cancellationToken).ConfigureAwait(false)];
            }

            var expected = Digest.Parse(piece.Digest!);
            var results = new List<PieceResult>();
            foreach (var parent in piece.Parents)
            {
                if (parent.PeerId == PeerId)
                {
                    continue;
                }

                var result = await FetchFromParentAsync(session, piece.Index, expected, parent, buffer, length, cancellationToken).ConfigureAwait(false);
                results.Add(result);
                if (result.Success)
                {
                    break;
                }
            }

            if (results.Count == 0)
            {
                results.Add(new PieceResult { Index = piece.Index, Failure = PieceFailure.Unreachable });
            }
            else if (results.All(r => r.Failure == PieceFailure.Busy))
            {
                // Every parent is saturated: give them a moment before the piece is scheduled again.
                await Task.Delay(BusyBackoff, _time, cancellationToken).ConfigureAwait(false);
            }

            return [.. results];
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Releases the scheduler's lease on the piece without charging anyone.
            return [new PieceResult { Index = piece.Index, Failure = PieceFailure.Unreachable }];
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            _downloadSlots.Release();
        }
    }

    private async Task<PieceResult> FetchFromOriginAsync(PeerBlobSource source, BlobAddress blob, TaskSession session, int index, byte[] buffer, int length, CancellationToken cancellationToken)
    {
        long started = _time.GetTimestamp();
        int read;
        try
        {
            await using var stream = await source.Origin.OpenRangeAsync(blob with { Size = session.Size }, session.PieceOffset(index), length, cancellationToken).ConfigureAwait(false);
            read = await stream.ReadAtLeastAsync(buffer.AsMemory(0, length), length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            PeerLog.OriginFailed(_logger, session.Task, index, ex.Message);
            return new PieceResult { Index = index, Failure = PieceFailure.Origin, DurationMs = Elapsed(started) };
        }

        Interlocked.Add(ref _counters.BytesFromOrigin, read);
        if (read != length)
        {
            PeerLog.OriginFailed(_logger, session.Task, index, $"the registry returned {read} of {length} bytes");
            return new PieceResult { Index = index, Failure = PieceFailure.Origin, DurationMs = Elapsed(started) };
        }

        var digest = Sha256(buffer.AsSpan(0, length));
        if (!_store.Put(session.Task, session.PieceSize, index, digest, buffer.AsSpan(0, length)))
        {
            throw new IOException($"The piece store has no room for a piece of {length} bytes (capacity {_options.CapacityBytes}).");
        }

        Interlocked.Increment(ref _counters.PiecesFromOrigin);
        _originPieces.AddOrUpdate(session.Task, 1, (_, n) => n + 1);
        return new PieceResult { Index = index, Success = true, Digest = digest.Value, DurationMs = Elapsed(started) };
    }

    private async Task<PieceResult> FetchFromParentAsync(TaskSession session, int index, Digest expected, ParentRef parent, byte[] buffer, int length, CancellationToken cancellationToken)
    {
        long started = _time.GetTimestamp();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.PieceTimeout);
        PieceFailure failure;
        string reason;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(new Uri(parent.Url), P2PProtocol.PiecePath(session.Task, index)));
            request.Headers.TryAddWithoutValidation(P2PProtocol.TokenHeader, session.Tokens.Current);
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.ServiceUnavailable)
            {
                failure = PieceFailure.Busy;
                reason = "every upload slot busy";
            }
            else if (response.StatusCode != HttpStatusCode.OK)
            {
                failure = PieceFailure.Refused;
                reason = $"answered {(int)response.StatusCode}";
            }
            else if (response.Content.Headers.ContentLength is long announced && announced != length)
            {
                failure = PieceFailure.Corrupt;
                reason = $"announced {announced} bytes for a piece of {length}";
            }
            else
            {
                await using var body = await response.Content.ReadAsStreamAsync(timeout.Token).ConfigureAwait(false);
                int read = await body.ReadAtLeastAsync(buffer.AsMemory(0, length), length, throwOnEndOfStream: false, timeout.Token).ConfigureAwait(false);
                // One byte more than the piece means the parent is lying about its length.
                bool overlong = read == length && await body.ReadAsync(new byte[1], timeout.Token).ConfigureAwait(false) > 0;
                if (read != length || overlong || Sha256(buffer.AsSpan(0, length)) != expected)
                {
                    failure = PieceFailure.Corrupt;
                    reason = "bytes do not match the piece digest";
                }
                else
                {
                    if (!_store.Put(session.Task, session.PieceSize, index, expected, buffer.AsSpan(0, length)))
                    {
                        throw new IOException($"The piece store has no room for a piece of {length} bytes (capacity {_options.CapacityBytes}).");
                    }

                    Interlocked.Increment(ref _counters.PiecesFromPeers);
                    Interlocked.Add(ref _counters.BytesFromPeers, length);
                    return new PieceResult { Index = index, Success = true, ParentId = parent.PeerId, Digest = expected.Value, DurationMs = Elapsed(started) };
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            failure = PieceFailure.Slow;
            reason = $"no piece within {_options.PieceTimeout}";
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException)
        {
            failure = PieceFailure.Unreachable;
            reason = ex.Message;
        }

        if (failure == PieceFailure.Corrupt)
        {
            Interlocked.Increment(ref _counters.CorruptPieces);
        }
        else
        {
            Interlocked.Increment(ref _counters.ParentFailures);
        }

        PeerLog.ParentFailed(_logger, parent.PeerId, session.Task, index, failure, reason);
        return new PieceResult { Index = index, ParentId = parent.PeerId, Failure = failure, DurationMs = Elapsed(started) };
    }

    private static Digest Sha256(ReadOnlySpan<byte> data)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(data, hash);
        return Digest.FromHash(Digest.Sha256, hash);
    }

    private int Elapsed(long started) => (int)Math.Min(int.MaxValue, _time.GetElapsedTime(started).TotalMilliseconds);

    /// <summary>Releases the download slots.</summary>
    public void Dispose() => _downloadSlots.Dispose();
}
