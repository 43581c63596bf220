using System.Runtime.InteropServices;
using Accelerator.Fuse.FileSystem;
using Accelerator.Fuse.Interop;
using Accelerator.Linux;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Accelerator.Fuse;

/// <summary>
/// A file system mounted with FUSE: <c>/dev/fuse</c> opened, mount(2) called read-only (nosuid, nodev) with that
/// descriptor, and a <see cref="FuseSession"/> serving it. Disposing unmounts (lazily when files are still open) and,
/// if the connection does not end within <see cref="FuseMountOptions.UnmountTimeout"/>, aborts it. Needs
/// CAP_SYS_ADMIN.
/// </summary>
/// <remarks>
/// Takeover: <see cref="ResumeAsync"/> serves a mount another process made (its descriptor passed on); after
/// <see cref="LeaveMounted"/> (or <see cref="FuseHandover.Begin"/>) disposing only stops serving and releases the
/// descriptor, so a successor holding a copy of it carries on.
/// </remarks>
public sealed partial class FuseMount : IAsyncDisposable
{
    private const string DevicePath = "/dev/fuse";
    private const int SigInt = 2;

    private readonly FuseMountOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly List<PosixSignalRegistration> _signals = [];
    private int _mounted = 1;
    private int _leaveMounted;
    private int _disposed;

    private FuseMount(string mountPoint, FuseSession session, MountIdentity identity, FuseMountOptions options, ILogger logger, TimeProvider time)
    {
        MountPoint = mountPoint;
        Session = session;
        session.MountPoint = mountPoint;
        DeviceMajor = identity.Major;
        DeviceMinor = identity.Minor;
        _options = options;
        _logger = logger;
        _time = time;
    }

    /// <summary>Where the tree is mounted (canonical path).</summary>
    public string MountPoint { get; }

    /// <summary>The session serving the mount.</summary>
    public FuseSession Session { get; }

    /// <summary>The major number of the mount's anonymous device (st_dev of its files; 0).</summary>
    public uint DeviceMajor { get; }

    /// <summary>The minor number of the mount's anonymous device (the <c>0:N</c> of <c>/proc/self/mountinfo</c>).</summary>
    public uint DeviceMinor { get; }

    /// <summary>The connection's name under <c>/sys/fs/fuse/connections</c> (the kernel's dev_t of the mount).</summary>
    public uint ConnectionId => (DeviceMajor << 20) | DeviceMinor;

    /// <summary>Whether this mount is still attached (not yet unmounted by us).</summary>
    public bool IsMounted => Volatile.Read(ref _mounted) != 0;

    /// <summary>
    /// Completes when the connection ended (after unmounting, once the last open file of a detached mount closed), or
    /// when the session stopped serving for a successor (<see cref="LeaveMounted"/>, then a signal or disposing).
    /// </summary>
    public Task Completion => Session.Completion;

    /// <summary>Whether disposing (and a signal) leaves the mount in place for a successor (<see cref="LeaveMounted"/>).</summary>
    public bool LeavesMounted => Volatile.Read(ref _leaveMounted) != 0;

    /// <summary>Mounts <paramref name="fileSystem"/> at <paramref name="mountPoint"/> (an existing directory) and returns once INIT was answered.</summary>
    /// <param name="mountPoint">The directory to mount on.</param>
    /// <param name="fileSystem">The tree to serve.</param>
    /// <param name="options">Options; validated here.</param>
    /// <param name="loggerFactory">Where to log; nothing when null.</param>
    /// <param name="timeProvider">Time for timeouts; the system clock when null.</param>
    /// <param name="cancellationToken">Cancels waiting for INIT (the mount is then undone).</param>
    /// <exception cref="IOException">FUSE is unavailable, mount(2) failed, or INIT did not come.</exception>
    public static async Task<FuseMount> MountAsync(
        string mountPoint,
        IFuseFileSystem fileSystem,
        FuseMountOptions? options = null,
        ILoggerFactory? loggerFactory = null,
        TimeProvider? timeProvider = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(mountPoint);
        ArgumentNullException.ThrowIfNull(fileSystem);
        options ??= new FuseMountOptions();
        FuseOptionsValidation.ThrowIfInvalid(new FuseMountOptionsValidator(), options, "FUSE mount");
        var time = timeProvider ?? TimeProvider.System;
        var logger = (ILogger?)loggerFactory?.CreateLogger<FuseMount>() ?? NullLogger.Instance;
        if (!Directory.Exists(mountPoint))
        {
            throw new DirectoryNotFoundException($"The mount point '{mountPoint}' is not a directory.");
        }

        string target = LibC.RealPath(mountPoint);
        var device = LibC.OpenReadWrite(DevicePath);
        FuseSession? session = null;
        bool mounted = false;
        try
        {
            int fd = (int)device.DangerousGetHandle();
            string data = $"fd={fd},rootmode=40000,user_id={LibC.Geteuid()},group_id={LibC.Getegid()},max_read={options.Session.MaxRead}"
                + (options.AllowOther ? ",allow_other" : string.Empty)
                + (options.DefaultPermissions ? ",default_permissions" : string.Empty);
            int errno = LibC.Mount(options.FileSystemName, target, "fuse." + options.Subtype, MountFlags.ReadOnly | MountFlags.NoSetUid | MountFlags.NoDevices, data);
            if (errno != 0)
            {
                throw new IOException(
                    errno == Errno.EPERM ? $"Mounting FUSE at '{target}' needs CAP_SYS_ADMIN (run as root): {LibC.Message(errno)}." : $"mount(2) of FUSE at '{target}' failed: {LibC.Message(errno)}.",
                    errno);
            }

            mounted = true;
            session = new FuseSession(device, fileSystem, options.Session, loggerFactory?.CreateLogger<FuseSession>(), time);
            session.Start();
            try
            {
                await session.Initialized.WaitAsync(options.InitTimeout, time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                throw new IOException($"The kernel sent no FUSE INIT within {options.InitTimeout} of mounting '{target}'.");
            }

            var identity = MountIdentity.Find(target, "fuse." + options.Subtype)
                ?? throw new IOException($"'{target}' is not in /proc/self/mountinfo after mounting it.");
            var mount = new FuseMount(target, session, identity, options, logger, time);
            mount.ApplyReadAhead();
            if (options.UnmountOnSignal)
            {
                mount.RegisterSignals();
            }

            mount.LogMounted(target, mount.ConnectionId);
            FuseHandover.Register(mount);
            return mount;
        }
        catch
        {
            if (mounted)
            {
                _ = LibC.Umount2(target, UnmountFlags.Detach | UnmountFlags.NoFollow);
            }

            if (session is not null)
            {
                await session.DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                device.Dispose();
            }

            throw;
        }
    }

    /// <summary>
    /// Unmounts: umount2(2), or when the mount is busy (files open, a process inside it) a lazy detach — the tree
    /// leaves the namespace now and the session serves open files until they close.
    /// </summary>
    /// <returns>True when unmounted outright, false when detached lazily (or already unmounted).</returns>
    /// <exception cref="IOException">umount2(2) failed for another reason.</exception>
    public bool Unmount()
    {
        if (Interlocked.Exchange(ref _mounted, 0) == 0)
        {
            return false;
        }

        int errno = LibC.Umount2(MountPoint, UnmountFlags.NoFollow);
        if (errno == 0)
        {
            LogUnmounted(MountPoint);
            return true;
        }

        if (errno == Errno.EBUSY)
        {
            errno = LibC.Umount2(MountPoint, UnmountFlags.Detach | UnmountFlags.NoFollow);
            if (errno == 0)
            {
                LogDetached(MountPoint);
                return false;
            }
        }

        if (errno == Errno.EINVAL || errno == Errno.ENOENT)
        {
            // Someone else unmounted it already.
            return false;
        }

        Volatile.Write(ref _mounted, 1);
        throw new IOException($"umount2 of '{MountPoint}' failed: {LibC.Message(errno)}.", errno);
    }

    /// <summary>
    /// Aborts the connection (<c>/sys/fs/fuse/connections/ID/abort</c>, mounting the fusectl file system there if
    /// needed): every request waiting for an answer fails (ECONNABORTED), later ones fail with ENOTCONN, and the session
    /// ends. The mount itself stays until unmounted.
    /// </summary>
    /// <exception cref="IOException">The control file system is unavailable.</exception>
    public void Abort()
    {
        FuseConnections.Abort(ConnectionId);
        LogAborted(MountPoint, ConnectionId);
    }

    /// <summary>
    /// From now on, disposing (and a signal of <see cref="FuseMountOptions.UnmountOnSignal"/>) leaves the mount
    /// attached and its connection up: the session stops reading (<see cref="FuseSession.StopReadingAsync"/>) and the
    /// descriptor is released, without unmount or abort. For a takeover: a successor holds a copy of the descriptor
    /// (without one, closing the last copy ends the connection). Irreversible.
    /// </summary>
    public void LeaveMounted()
    {
        if (Interlocked.Exchange(ref _leaveMounted, 1) == 0)
        {
            LogLeavingMounted(MountPoint, ConnectionId);
        }
    }

    /// <summary>
    /// Unmounts (lazily if busy), waits up to <see cref="FuseMountOptions.UnmountTimeout"/> for the connection to end,
    /// aborts it if it has not, and releases the session. After <see cref="LeaveMounted"/>: stops the session's
    /// readers and releases the descriptor only (the mount stays, requests wait in the kernel for a successor).
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        foreach (var registration in _signals)
        {
            registration.Dispose();
        }

        FuseHandover.Unregister(this);
        if (LeavesMounted)
        {
            await Session.StopReadingAsync().ConfigureAwait(false);
            await Session.DisposeAsync().ConfigureAwait(false);
            LogLeftMounted(MountPoint, ConnectionId);
            return;
        }

        await UnmountThenAbortAsync().ConfigureAwait(false);
        await Session.DisposeAsync().ConfigureAwait(false);
    }

    // Unmounting ends the connection only when the superblock goes: open files of a lazily detached mount, and copies
    // of the mount in other mount namespaces (unshare, `ip netns exec`, containers started while it was mounted) keep
    // it alive. So wait a grace period, then abort.
    private async Task UnmountThenAbortAsync()
    {
        try
        {
            Unmount();
        }
        catch (IOException ex)
        {
            LogUnmountFailed(MountPoint, ex);
        }

        if (!await WaitForCompletionAsync(_options.UnmountTimeout).ConfigureAwait(false))
        {
            LogAbortingAfterUnmount(MountPoint, _options.UnmountTimeout);
            try
            {
                Abort();
                await WaitForCompletionAsync(_options.UnmountTimeout).ConfigureAwait(false);
            }
            catch (IOException ex)
            {
                LogUnmountFailed(MountPoint, ex);
            }
        }
    }

    private async Task<bool> WaitForCompletionAsync(TimeSpan timeout)
    {
        try
        {
            await Completion.WaitAsync(timeout, _time).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    private void ApplyReadAhead()
    {
        if (_options.ReadAheadKilobytes is not { } kilobytes)
        {
            return;
        }

        // The mount's backing device info is named after its device (fs/fuse/inode.c, fuse_bdi_init).
        string path = $"/sys/class/bdi/{DeviceMajor}:{DeviceMinor}/read_ahead_kb";
        try
        {
            File.WriteAllText(path, kilobytes.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogReadAheadFailed(path, ex.Message);
        }
    }

    private void RegisterSignals()
    {
        // A background job of a shell without job control inherits SIGINT ignored; the runtime keeps it ignored (the
        // convention: such jobs are not meant to stop on the terminal's ^C), so only SIGTERM can unmount. Say so.
        if (SignalDisposition.IsIgnored(SigInt))
        {
            LogSignalIgnored(PosixSignal.SIGINT, MountPoint);
        }

        foreach (var signal in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM })
        {
            _signals.Add(PosixSignalRegistration.Create(signal, context =>
            {
                context.Cancel = true;
                if (LeavesMounted)
                {
                    // Handing over: a successor serves the mount; stop serving, never unmount.
                    LogSignalLeavingMounted(context.Signal, MountPoint);
                    _ = Task.Run(() => Session.StopReadingAsync());
                    return;
                }

                LogSignal(context.Signal, MountPoint);
                _ = Task.Run(UnmountThenAbortAsync);
            }));
        }
    }
}
