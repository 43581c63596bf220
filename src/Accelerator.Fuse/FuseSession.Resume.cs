using Accelerator.Fuse.FileSystem;
using Accelerator.Fuse.Protocol;
using Accelerator.Linux;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace Accelerator.Fuse;

public sealed partial class FuseSession
{
    /// <summary>
    /// A session that takes over a connection another session initialised (a predecessor in this or another process,
    /// whose <c>/dev/fuse</c> descriptor was passed on): no INIT is expected (one arriving is answered EPROTO),
    /// <paramref name="connection"/> is what that INIT settled. <see cref="Start"/> asks the kernel to resend what the
    /// predecessor read and did not answer, when it can (<see cref="FuseConnectionInfo.KernelCanResend"/>).
    /// </summary>
    /// <param name="device">The connection's device (a copy of the predecessor's descriptor); the session now owns it.</param>
    /// <param name="fileSystem">The tree served: the same content as the predecessor's (node ids are inode numbers).</param>
    /// <param name="connection">The predecessor's negotiated connection (<see cref="FuseConnectionInfo.FromJson"/>).</param>
    /// <param name="options">Options; validated here. Sizes and INIT flags are the connection's, not these.</param>
    /// <param name="logger">Where to log; nothing when null.</param>
    /// <param name="timeProvider">Time for request timeouts; the system clock when null.</param>
    /// <remarks>
    /// The predecessor must have stopped reading (<see cref="StopReadingAsync"/>, or exited): a request it still reads
    /// is served by whoever reads it. Open directories of the predecessor are listed again from their node ids.
    /// </remarks>
    public static FuseSession Resume(SafeFileHandle device, IFuseFileSystem fileSystem, FuseConnectionInfo connection, FuseSessionOptions? options = null, ILogger? logger = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(connection);
        return new FuseSession(device, fileSystem, options, logger, timeProvider, connection);
    }

    /// <summary>
    /// A new descriptor of this session's connection (a dup of its <c>/dev/fuse</c> descriptor, close-on-exec), owned
    /// by the caller: what a holder keeps (SCM_RIGHTS) so the connection outlives this process, or what a successor
    /// resumes. The connection lasts while any copy is open.
    /// </summary>
    /// <exception cref="InvalidOperationException">The session has no device.</exception>
    /// <exception cref="ObjectDisposedException">The session released its device.</exception>
    public SafeFileHandle DuplicateDevice()
    {
        var device = _device ?? throw new InvalidOperationException("This session has no device.");
        ObjectDisposedException.ThrowIf(device.IsClosed, this);
        return LibC.Duplicate(device);
    }

    /// <summary>
    /// Stops reading requests without ending the connection, for a successor: the readers leave (each woken by a
    /// request of the session's own, see <see cref="FuseNotifyCode.Retrieve"/>), requests not yet read stay queued in
    /// the kernel, and the reads already read are given up to <see cref="FuseSessionOptions.StopTimeout"/> to be
    /// answered. What is still unanswered then is left in the kernel's processing queue for the successor's resend:
    /// disposing afterwards cancels those reads without answering them. Idempotent.
    /// </summary>
    /// <param name="cancellationToken">Stops waiting (the readers are stopping all the same).</param>
    public async Task StopReadingAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _stopping, 1) == 0)
        {
            // After the flag (interlocked): a reader started from now on backs out (TryStartReader).
            int readers = Volatile.Read(ref _readers);
            LogStopping(readers, _pending.Count);
            if (Volatile.Read(ref _started) == 0 || readers == 0)
            {
                // No reader to wake (reads in flight, if any, are still drained below).
                _completion.TrySetResult();
            }
            else
            {
                WakeReaders(readers);
            }
        }

        bool readersGone = await WaitAsync(_completion.Task, cancellationToken).ConfigureAwait(false);
        if (_pending.IsEmpty && Volatile.Read(ref _readers) == 0)
        {
            _drained.TrySetResult();
        }

        bool drained = await WaitAsync(_drained.Task, cancellationToken).ConfigureAwait(false);
        _released = true;
        LogStopped(drained ? 0 : _pending.Count, readersGone);
    }

    private async Task<bool> WaitAsync(Task task, CancellationToken cancellationToken)
    {
        try
        {
            await task.WaitAsync(_options.StopTimeout, _time, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    /// <summary>
    /// Where the session's connection is mounted, set by <see cref="FuseMount"/>: the last way to wake readers (a
    /// statfs there is a request) when the kernel retrieves nothing.
    /// </summary>
    internal string? MountPoint { get; set; }

    // A reader blocked in read(2) wakes only for a request; one request per reader wakes them all, since a reader reads
    // at most one more request once the flag is set (a reader that reads an application's request instead answers it
    // and leaves; the wake-up request left over is ignored by whoever reads it).
    // 1. FUSE_NOTIFY_RETRIEVE makes the kernel queue a NOTIFY_REPLY (fs/fuse/dev.c, fuse_retrieve; ended as soon as it
    //    is read, no reply; size 0: no data) for a regular file in its inode cache: the last file opened.
    // 2. Else a statfs of the mount point, from a thread of its own (STATFS is never cached): the reader that reads it
    //    answers it, then leaves.
    private void WakeReaders(int count)
    {
        int woken = 0;
        ulong file = Volatile.Read(ref _lastOpenedFile);
        if (file != 0)
        {
            Span<byte> message = stackalloc byte[FuseProtocol.OutHeaderSize + System.Runtime.CompilerServices.Unsafe.SizeOf<FuseNotifyRetrieveOut>()];
            var retrieve = new FuseNotifyRetrieveOut { NotifyUnique = WakeUnique, NodeId = file };
            int length = FuseReply.WriteNotification(message, FuseNotifyCode.Retrieve, retrieve);
            for (; woken < count; woken++)
            {
                if (!_sink.Send(message[..length], default, out int errno))
                {
                    if (errno == Errno.ENODEV)
                    {
                        return; // the connection ended: the readers leave by themselves
                    }

                    LogRetrieveRefused(file, errno);
                    break;
                }
            }
        }

        if (woken < count && MountPoint is { } mountPoint)
        {
            for (; woken < count; woken++)
            {
                new Thread(() => _ = LibC.StatFs(mountPoint)) { IsBackground = true, Name = "fuse-wake" }.Start();
            }
        }

        if (woken < count)
        {
            LogWakeFailed(count - woken);
        }
    }

    private void SendResend(FuseConnectionInfo connection)
    {
        if (!connection.KernelCanResend)
        {
            LogResumed(connection.KernelMajor, connection.KernelMinor, connection.Minor, resent: false);
            return;
        }

        Span<byte> notification = stackalloc byte[FuseProtocol.OutHeaderSize];
        int length = FuseReply.WriteNotification(notification, FuseNotifyCode.Resend);
        if (!_sink.Send(notification[..length], default, out int errno))
        {
            LogResendFailed(errno);
            LogResumed(connection.KernelMajor, connection.KernelMinor, connection.Minor, resent: false);
            return;
        }

        LogResumed(connection.KernelMajor, connection.KernelMinor, connection.Minor, resent: true);
    }

    // Called when a read's reply went out (or was given up): the last one of a stopping session completes the drain.
    private void OnReadCompleted()
    {
        if (Volatile.Read(ref _stopping) != 0 && Volatile.Read(ref _readers) == 0 && _pending.IsEmpty)
        {
            _drained.TrySetResult();
        }
    }
}
