using Accelerator.Fuse.FileSystem;
using Accelerator.Fuse.Protocol;
using Accelerator.Linux;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Win32.SafeHandles;

namespace Accelerator.Fuse;

public sealed partial class FuseMount
{
    /// <summary>
    /// Serves a FUSE mount another session made (a predecessor process whose descriptor was kept and passed on): checks
    /// that <paramref name="mountPoint"/> is a mount of the connection (its <c>0:N</c> in mountinfo is
    /// <paramref name="deviceMinor"/>) and that the connection is up, then resumes it with
    /// <see cref="FuseSession.Resume"/> — requests the predecessor read and did not answer are resent when the kernel can
    /// (<see cref="FuseConnectionInfo.KernelCanResend"/>).
    /// </summary>
    /// <param name="mountPoint">The mount point, canonical (it is not resolved: touching a mount nobody serves would wait).</param>
    /// <param name="device">A copy of the connection's <c>/dev/fuse</c> descriptor; the mount now owns it (closed on failure).</param>
    /// <param name="connection">The connection the predecessor negotiated (saved with the descriptor).</param>
    /// <param name="deviceMinor">The predecessor's <see cref="DeviceMinor"/> (saved with the descriptor).</param>
    /// <param name="fileSystem">The tree to serve: the same content as the predecessor's.</param>
    /// <param name="options">Options; validated here (the mount options of the original mount are not changed).</param>
    /// <param name="loggerFactory">Where to log; nothing when null.</param>
    /// <param name="timeProvider">Time for timeouts; the system clock when null.</param>
    /// <param name="cancellationToken">Cancels before serving starts.</param>
    /// <exception cref="IOException">The mount point is not a mount of that connection, or the connection ended.</exception>
    public static Task<FuseMount> ResumeAsync(
        string mountPoint,
        SafeFileHandle device,
        FuseConnectionInfo connection,
        uint deviceMinor,
        IFuseFileSystem fileSystem,
        FuseMountOptions? options = null,
        ILoggerFactory? loggerFactory = null,
        TimeProvider? timeProvider = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(device);
        try
        {
            ArgumentException.ThrowIfNullOrEmpty(mountPoint);
            ArgumentNullException.ThrowIfNull(connection);
            ArgumentNullException.ThrowIfNull(fileSystem);
            options ??= new FuseMountOptions();
            FuseOptionsValidation.ThrowIfInvalid(new FuseMountOptionsValidator(), options, "FUSE mount");
            cancellationToken.ThrowIfCancellationRequested();
            string target = CanonicalWithoutEntering(mountPoint);
            string type = "fuse." + options.Subtype;
            if (!MountTable.Read().Any(m => m.MountPoint == target && m.FileSystemType == type && m.Major == 0 && m.Minor == deviceMinor))
            {
                throw new IOException($"'{target}' is not the {type} mount of FUSE connection 0:{deviceMinor} (not mounted there, or a different mount).");
            }

            if (!IsConnected(device))
            {
                throw new IOException($"The FUSE connection 0:{deviceMinor} of '{target}' has ended (aborted or unmounted): it cannot be resumed.");
            }

            var time = timeProvider ?? TimeProvider.System;
            var logger = (ILogger?)loggerFactory?.CreateLogger<FuseMount>() ?? NullLogger.Instance;
            var session = FuseSession.Resume(device, fileSystem, connection, options.Session, loggerFactory?.CreateLogger<FuseSession>(), time);
            var mount = new FuseMount(target, session, new MountIdentity(0, deviceMinor), options, logger, time);
            try
            {
                session.Start();
            }
            catch
            {
                // Never unmount what we resumed: leave it to whoever holds the connection.
                mount.LeaveMounted();
                _ = mount.DisposeAsync().AsTask();
                throw;
            }

            if (options.UnmountOnSignal)
            {
                mount.RegisterSignals();
            }

            mount.LogResumed(target, mount.ConnectionId, connection.KernelCanResend);
            FuseHandover.Register(mount);
            return Task.FromResult(mount);
        }
        catch
        {
            device.Dispose();
            throw;
        }
    }

    /// <summary>A new descriptor of this mount's connection, owned by the caller (<see cref="FuseSession.DuplicateDevice"/>).</summary>
    public SafeFileHandle DuplicateDevice() => Session.DuplicateDevice();

    // realpath of the parent (not on the mount) and the mount point's own name: stat of a FUSE mount nobody serves yet
    // would wait for the answer this very call is about to give.
    private static string CanonicalWithoutEntering(string mountPoint)
    {
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(mountPoint));
        string? parent = Path.GetDirectoryName(full);
        string name = Path.GetFileName(full);
        return parent is null || name.Length == 0 ? full : Path.Combine(LibC.RealPath(parent), name);
    }

    // /dev/fuse polls POLLERR once its connection ended (fs/fuse/dev.c, fuse_dev_poll).
    private static bool IsConnected(SafeFileHandle device)
    {
        bool added = false;
        try
        {
            device.DangerousAddRef(ref added);
            Span<PollDescriptor> poll = [new PollDescriptor { Fd = (int)device.DangerousGetHandle(), Events = LibC.POLLIN }];
            int ready = LibC.Poll(poll, 0);
            return ready >= 0 && (poll[0].ReturnedEvents & (LibC.POLLERR | LibC.POLLHUP | LibC.POLLNVAL)) == 0;
        }
        finally
        {
            if (added)
            {
                device.DangerousRelease();
            }
        }
    }
}
