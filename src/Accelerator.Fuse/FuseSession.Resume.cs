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
    /// Stops reading requests without ending the connection, for a successor: the readers leave (woken from poll(2)),
    /// requests not yet read stay queued in the kernel, and the reads already read are given up to
    /// <see cref="FuseSessionOptions.StopTimeout"/> to be answered. From then on the session writes nothing to the
    /// device: what is still unanswered is left in the kernel's processing queue, for the successor's resend. Idempotent.
    /// </summary>
    /// <param name="cancellationToken">Stops waiting (the readers are stopping all the same).</param>
    public async Task StopReadingAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _stopping, 1) == 0)
        {
            LogStopping(Volatile.Read(ref _readers), _pending.Count);
            Wake();
            if (Volatile.Read(ref _started) == 0 || Volatile.Read(ref _readers) == 0)
            {
                // No reader to see the flag (reads in flight, if any, are still drained below).
                _completion.TrySetResult();
            }
        }

        await _completion.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (_pending.IsEmpty)
        {
            _drained.TrySetResult();
        }

        bool drained = true;
        try
        {
            await _drained.Task.WaitAsync(_options.StopTimeout, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            drained = false;
        }

        _released = true;
        LogStopped(drained ? 0 : _pending.Count);
    }

    // Lets every reader waiting in poll(2) see the stop flag: the eventfd stays readable (nobody reads it).
    private void Wake()
    {
        var wake = _wake;
        if (wake is null)
        {
            return;
        }

        bool added = false;
        try
        {
            wake.DangerousAddRef(ref added);
            Span<byte> one = stackalloc byte[8];
            BitConverter.TryWriteBytes(one, 1UL);
            _ = LibC.Write((int)wake.DangerousGetHandle(), one);
        }
        catch (ObjectDisposedException)
        {
            // Disposed: the readers are gone or going.
        }
        finally
        {
            if (added)
            {
                wake.DangerousRelease();
            }
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
