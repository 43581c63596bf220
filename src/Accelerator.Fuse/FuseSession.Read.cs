using System.Buffers;
using System.Collections.Concurrent;
using Accelerator.Fuse.FileSystem;
using Accelerator.Fuse.Protocol;
using Accelerator.Linux;

namespace Accelerator.Fuse;

public sealed partial class FuseSession
{
    // INTERRUPTs that arrived before their read was registered (another reader took the read a moment earlier).
    private const int EarlyInterruptLimit = 256;

    private readonly ConcurrentDictionary<ulong, PendingRead> _pending = new();
    private readonly Lock _interruptLock = new();
    private readonly Queue<ulong> _earlyInterrupts = new();

    private void HandleRead(in FuseRequest request, FuseConnectionInfo connection)
    {
        var input = request.ReadRead();
        Statistics.AddReadRequest(input.Size);
        if (input.Size > (uint)connection.MaxRead || input.Offset > long.MaxValue)
        {
            throw new FuseProtocolException($"READ of {input.Size} bytes at {input.Offset} is beyond the negotiated limit of {connection.MaxRead}.");
        }

        int size = (int)input.Size;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(size);
        var pending = Register(request.Unique);
        ValueTask<int> read;
        try
        {
            read = _fileSystem.ReadAsync(request.NodeId, (long)input.Offset, buffer.AsMemory(0, size), pending.Token);
        }
        catch (Exception ex)
        {
            read = ValueTask.FromException<int>(ex);
        }

        if (read.IsCompleted)
        {
            int length = 0;
            int errno;
            try
            {
                length = read.GetAwaiter().GetResult();
                errno = length >= 0 && length <= size ? 0 : Errno.EIO;
            }
            catch (Exception ex)
            {
                errno = ReadErrno(ex, pending, request.NodeId);
            }

            CompleteRead(pending, buffer, length, errno, backendStillRunning: null);
        }
        else
        {
            _ = CompleteReadAsync(pending, buffer, size, request.NodeId, read.AsTask());
        }
    }

    private async Task CompleteReadAsync(PendingRead pending, byte[] buffer, int size, ulong nodeId, Task<int> read)
    {
        int length = 0;
        int errno;
        try
        {
            length = await read.WaitAsync(pending.Token).ConfigureAwait(false);
            errno = length >= 0 && length <= size ? 0 : Errno.EIO;
        }
        catch (Exception ex)
        {
            errno = ReadErrno(ex, pending, nodeId);
        }

        CompleteRead(pending, buffer, length, errno, read.IsCompleted ? null : read);
    }

    private void CompleteRead(PendingRead pending, byte[] buffer, int length, int errno, Task? backendStillRunning)
    {
        // The header goes in its own small buffer; the data stays where the file system put it (writev).
        Span<byte> header = stackalloc byte[FuseProtocol.OutHeaderSize];
        try
        {
            if (errno == 0)
            {
                Statistics.AddBytesRead(length);
                FuseReply.WriteHeader(header, pending.Unique, length);
                Reply(header, buffer.AsSpan(0, length));
            }
            else if (_released && pending.Token.IsCancellationRequested && pending.Reason == CancelReason.Shutdown)
            {
                // Stopped for a successor, then disposed: the read stays unanswered in the kernel, the successor's
                // (resent to it). An EIO now would fail a read the successor can serve.
            }
            else
            {
                Statistics.AddErrorReply();
                Reply(header[..FuseReply.WriteError(header, pending.Unique, errno)], default);
            }
        }
        catch (Exception ex)
        {
            // Every read must be answered, or its reader waits forever.
            LogOperationFailed(FuseOpcode.Read, pending.Unique, ex);
            Reply(header[..FuseReply.WriteError(header, pending.Unique, Errno.EIO)], default);
        }
        finally
        {
            _pending.TryRemove(pending.Unique, out _);
            pending.Dispose();
            OnReadCompleted();
            if (backendStillRunning is null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
            else
            {
                // The file system still holds the buffer: give it back only when the abandoned read ends.
                _ = backendStillRunning.ContinueWith(static (_, state) => ArrayPool<byte>.Shared.Return((byte[])state!), buffer, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
        }
    }

    private int ReadErrno(Exception exception, PendingRead pending, ulong nodeId)
    {
        if (exception is OperationCanceledException && pending.Token.IsCancellationRequested)
        {
            switch (pending.Reason)
            {
                case CancelReason.Interrupted:
                    Statistics.AddInterrupt();
                    return Errno.EINTR;
                case CancelReason.Shutdown:
                    return Errno.EIO;
                default:
                    Statistics.AddTimedOutRead();
                    LogReadTimedOut(nodeId, _options.RequestTimeout ?? TimeSpan.Zero);
                    return Errno.EIO;
            }
        }

        if (exception is FuseErrorException fuse)
        {
            return fuse.Errno;
        }

        LogReadFailed(nodeId, exception);
        return Errno.EIO;
    }

    private PendingRead Register(ulong unique)
    {
        var pending = new PendingRead(unique, _options.RequestTimeout, _time);
        _pending[unique] = pending;
        lock (_interruptLock)
        {
            if (_earlyInterrupts.Count > 0 && _earlyInterrupts.Contains(unique))
            {
                pending.Cancel(CancelReason.Interrupted);
            }
        }

        return pending;
    }

    private void HandleInterrupt(ulong unique)
    {
        lock (_interruptLock)
        {
            if (_pending.TryGetValue(unique, out var pending))
            {
                LogInterrupted(unique);
                pending.Cancel(CancelReason.Interrupted);
                return;
            }

            // Either the request is done (nothing to do), or a reader has it but not yet registered it: remember.
            _earlyInterrupts.Enqueue(unique);
            if (_earlyInterrupts.Count > EarlyInterruptLimit)
            {
                _earlyInterrupts.Dequeue();
            }
        }
    }

    private void CancelPending()
    {
        foreach (var pending in _pending.Values)
        {
            pending.Cancel(CancelReason.Shutdown);
        }
    }

    private enum CancelReason
    {
        None,
        TimedOut,
        Interrupted,
        Shutdown,
    }

    /// <summary>A read in flight: its cancellation (interrupt, timeout, shutdown) and why it was cancelled.</summary>
    private sealed class PendingRead : IDisposable
    {
        private readonly CancellationTokenSource _cancellation;
        private int _reason;

        public PendingRead(ulong unique, TimeSpan? timeout, TimeProvider time)
        {
            Unique = unique;
            _cancellation = timeout is { } t ? new CancellationTokenSource(t, time) : new CancellationTokenSource();
        }

        public ulong Unique { get; }

        public CancellationToken Token => _cancellation.Token;

        // A cancellation without a recorded reason came from the timeout timer.
        public CancelReason Reason => Volatile.Read(ref _reason) is var r && r != 0 ? (CancelReason)r : CancelReason.TimedOut;

        public void Cancel(CancelReason reason)
        {
            if (Interlocked.CompareExchange(ref _reason, (int)reason, 0) == 0)
            {
                try
                {
                    _cancellation.Cancel();
                }
                catch (ObjectDisposedException)
                {
                    // Completed meanwhile.
                }
            }
        }

        public void Dispose() => _cancellation.Dispose();
    }
}
