using System.Buffers;
using System.Security.Cryptography;
using Accelerator.P2P.Protocol;

namespace Accelerator.P2P.Peers;

/// <summary>
/// A whole blob read through P2P, streamed in piece order while the pieces arrive: piece k is yielded as soon as it is
/// stored (sha256-checked on arrival against the digest its back-to-source peer recorded) and fed to one incremental
/// hash of the blob, so there is no second pass over the blob. The last piece is yielded only after the blob digest
/// matched: a reader that got every byte got the right blob; otherwise the last read fails (DigestMismatchException)
/// and the task is reset at the scheduler. If no scheduler answers any more mid-read, the remaining pieces are read
/// from the registry (same hash, same final check).
/// </summary>
internal sealed class BlobReadStream : ReadOnlyStream
{
    private const int MaxFetchRestarts = 3;

    private readonly PieceDownloader _downloader;
    private readonly PeerBlobSource _source;
    private readonly BlobAddress _blob;
    private readonly TaskSession _session;
    private readonly IDisposable _pin;
    private readonly CancellationTokenSource _stop;
    private readonly IncrementalHash _hasher;
    private Task _fetching;
    private byte[]? _scratch;
    private ReadOnlyMemory<byte> _current;
    private int _next;
    private int _restarts;
    private bool _fromOrigin;
    private bool _finished;
    private int _disposed;

    public BlobReadStream(PieceDownloader downloader, PeerBlobSource source, BlobAddress blob, TaskSession session, IDisposable pin)
    {
        _downloader = downloader;
        _source = source;
        _blob = blob with { Size = session.Size };
        _session = session;
        _pin = pin;
        _stop = CancellationTokenSource.CreateLinkedTokenSource(downloader.Stopping);
        _hasher = session.Task.CreateHasher();
        _fetching = StartFetching(0);
    }

    public override int Read(Span<byte> buffer) => ReadThroughAsync(buffer);

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (_current.Length == 0)
        {
            if (_next == _session.PieceCount)
            {
                if (!_finished)
                {
                    await FinishAsync(cancellationToken).ConfigureAwait(false); // an empty blob
                }

                return 0;
            }

            if (buffer.Length == 0)
            {
                return 0;
            }

            var piece = await LoadAsync(_next, cancellationToken).ConfigureAwait(false);
            _hasher.AppendData(piece.Span);
            _next++;
            if (_next == _session.PieceCount)
            {
                await FinishAsync(cancellationToken).ConfigureAwait(false);
            }

            _current = piece;
        }

        int count = Math.Min(buffer.Length, _current.Length);
        _current[..count].CopyTo(buffer);
        _current = _current[count..];
        return count;
    }

    public override async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _fetching.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or HttpRequestException or NoSchedulerException or P2PProtocolException or UnauthorizedAccessException or BlobNotFoundException)
        {
            // Its failure (if any) was this stream's to report, and it was, or nobody read that far.
        }

        Release();
        await base.DisposeAsync().ConfigureAwait(false);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _stop.Cancel();
            _ = _fetching.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            Release();
        }

        base.Dispose(disposing);
    }

    private void Release()
    {
        _current = default;
        if (_scratch is not null)
        {
            ArrayPool<byte>.Shared.Return(_scratch);
            _scratch = null;
        }

        _hasher.Dispose();
        _pin.Dispose();
        _stop.Dispose();
    }

    private Task StartFetching(int from)
    {
        int[] wanted = [.. Enumerable.Range(from, _session.PieceCount - from)];
        var token = _stop.Token;
        var session = Current();
        return Task.Run(() => _downloader.EnsurePiecesAsync(_source, _blob, session, wanted, token), token);
    }

    /// <summary>The task's session now: after a scheduler failover the fetches moved to the next scheduler on the ring.</summary>
    private TaskSession Current()
        => _downloader.Registration.Sessions.TryGetValue(_session.Task, out var session) && session.PieceSize == _session.PieceSize && session.Size == _session.Size
            ? session
            : _session;

    private async Task<ReadOnlyMemory<byte>> LoadAsync(int index, CancellationToken cancellationToken)
    {
        int length = _session.PieceLength(index);
        _scratch ??= ArrayPool<byte>.Shared.Rent(Math.Max(1, _session.PieceSize));
        while (true)
        {
            if (_fromOrigin)
            {
                return await ReadFromOriginAsync(index, length, cancellationToken).ConfigureAwait(false);
            }

            // Snapshot before looking: a piece stored after the look still wakes the wait below.
            var stored = _downloader.Store.NextStored;
            if (_downloader.Store.TryRead(_session.Task, _session.PieceSize, index, _scratch, out var data))
            {
                _restarts = 0;
                return data.Length == length
                    ? data
                    : throw new IOException($"Piece {index} of {_session.Task} is {data.Length} bytes, not {length}.");
            }

            if (_fetching.IsCompleted)
            {
                try
                {
                    await _fetching.ConfigureAwait(false);
                }
                catch (NoSchedulerException ex)
                {
                    Interlocked.Increment(ref _downloader.Counters.OriginFallbacks);
                    PeerLog.OriginFallback(_downloader.Logger, _session.Task, ex.Message);
                    _fromOrigin = true;
                    continue;
                }

                // Fetched, yet gone: evicted, or dropped as corrupt at rest. Fetch what is left again (bounded).
                if (++_restarts > MaxFetchRestarts)
                {
                    throw new IOException($"Piece {index} of {_session.Task} was evicted or failed its check {MaxFetchRestarts} times while being read.");
                }

                _fetching = StartFetching(index);
                continue;
            }

            await Task.WhenAny(stored, _fetching).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<ReadOnlyMemory<byte>> ReadFromOriginAsync(int index, int length, CancellationToken cancellationToken)
    {
        await using var stream = await _source.Origin.OpenRangeAsync(_blob, _session.PieceOffset(index), length, cancellationToken).ConfigureAwait(false);
        int read = await stream.ReadAtLeastAsync(_scratch.AsMemory(0, length), length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        Interlocked.Add(ref _downloader.Counters.BytesFromOrigin, read);
        return read == length
            ? _scratch.AsMemory(0, length)
            : throw new IOException($"The registry returned {read} of {length} bytes of piece {index} of {_session.Task}.");
    }

    private async Task FinishAsync(CancellationToken cancellationToken)
    {
        _finished = true;
        bool verified = Digest.FromHash(_session.Task.Algorithm, _hasher.GetHashAndReset()) == _session.Task;
        if (!verified)
        {
            // Stop the fetches before the pieces are dropped, so none of this read's assignments stores a piece again.
            await _stop.CancelAsync().ConfigureAwait(false);
            try
            {
                await _fetching.ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or HttpRequestException or NoSchedulerException or P2PProtocolException)
            {
            }
        }

        if (!_fromOrigin)
        {
            await _downloader.Reporter.CompleteBlobAsync(Current(), verified, cancellationToken).ConfigureAwait(false);
        }

        if (!verified)
        {
            throw new DigestMismatchException(_session.Task, "pieces that do not form the blob", $"P2P ({_source.Registry})");
        }
    }
}
