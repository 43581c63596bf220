using Accelerator.Linux;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Accelerator.Fuse.Takeover;

/// <summary>
/// Cleans up what dead processes left under a daemon's directories: FUSE mounts of ours (<c>fuse.accel*</c>) whose
/// connection ended, the overlays and file systems standing on them, loop devices backed by files on them (or by
/// deleted files), and per-mount private directories (<c>lazy-*</c>, <c>block-*</c>) whose owner is gone. Called at
/// start, after the daemon took over what it could: what a holder keeps (<see cref="StaleSweepScope.IsHeld"/>) is
/// never touched.
/// </summary>
/// <remarks>
/// <para>
/// A FUSE connection ends when the last descriptor of its <c>/dev/fuse</c> closes: its server died and no holder
/// keeps a copy. statfs(2) then fails with ENOTCONN (stat(2) is no test: attributes are cached for a day). A mount
/// that answers is served by a live process — another <c>accel mount</c> sharing the state directory — and is left
/// alone; one that does not answer within <see cref="StaleSweepOptions.ProbeTimeout"/> is left alone too.
/// </para>
/// <para>
/// Order: the mounts standing on stale ones (upper first), then the loop devices, then the FUSE mounts (deepest
/// first); busy mounts are detached (their open files stay until closed). Then the private directories with no
/// running owner and nothing mounted, used by an overlay or backing a loop device in them are deleted, without
/// following a symbolic link or entering another file system. Nothing outside <see cref="StaleSweepScope.Roots"/> is
/// touched; every action is logged.
/// </para>
/// </remarks>
public sealed partial class StaleMountSweeper
{
    private readonly StaleSweepOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;

    /// <summary>Creates a sweeper.</summary>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public StaleMountSweeper(StaleSweepOptions? options = null, ILogger<StaleMountSweeper>? logger = null, TimeProvider? timeProvider = null)
    {
        _options = options ?? new StaleSweepOptions();
        FuseOptionsValidation.ThrowIfInvalid(new StaleSweepOptionsValidator(), _options, "stale sweep");
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>Finds and removes the stale state under <paramref name="scope"/>'s roots.</summary>
    /// <returns>What was removed, kept and failed; failures are reported, not thrown.</returns>
    /// <exception cref="ArgumentException">A root is <c>/</c>, or a state directory lies outside the roots.</exception>
    public async Task<StaleSweepReport> SweepAsync(StaleSweepScope scope, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(scope);
        var roots = CanonicalRoots(scope.Roots);
        var stateDirectories = scope.StateDirectories.Select(Path.GetFullPath).Where(Directory.Exists).Select(LibC.RealPath).ToList();
        if (stateDirectories.FirstOrDefault(d => !roots.Any(r => MountTable.IsAtOrUnder(d, r))) is { } foreign)
        {
            throw new ArgumentException($"The state directory {foreign} lies outside the sweep's roots ({string.Join(", ", roots)}).", nameof(scope));
        }

        Func<string, bool> isHeld = scope.IsHeld ?? (static _ => false);
        var unmounted = new List<string>();
        var detached = new List<string>();
        var failures = new List<string>();
        var kept = new Dictionary<string, StaleSweepKept>(StringComparer.Ordinal);
        for (int round = 0; round < _options.MaxRounds && roots.Count > 0; round++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var plan = StaleStatePlanner.Plan(MountTable.Read(), LoopDevice.ListAttached(), roots, isHeld, Probe);
            foreach (var keep in plan.Kept)
            {
                kept[keep.Path] = keep;
            }

            if (plan.IsEmpty)
            {
                break;
            }

            int before = unmounted.Count + detached.Count;
            foreach (var mount in plan.StackedMounts)
            {
                Unmount(mount, "stands on a stale mount", unmounted, failures);
            }

            foreach (var loop in plan.LoopDevices)
            {
                await DetachAsync(loop, detached, failures, cancellationToken).ConfigureAwait(false);
            }

            foreach (var mount in plan.FuseMounts)
            {
                Unmount(mount, "its FUSE connection ended", unmounted, failures);
            }

            if (unmounted.Count + detached.Count == before)
            {
                break;
            }
        }

        foreach (string path in unmounted.Concat(detached))
        {
            kept.Remove(path);
        }

        var deleted = DeleteDirectories(stateDirectories, isHeld, kept, failures);
        var report = new StaleSweepReport
        {
            Unmounted = unmounted,
            DetachedLoopDevices = detached,
            DeletedDirectories = deleted,
            Kept = [.. kept.Values],
            Failures = failures,
        };
        foreach (var keep in report.Kept)
        {
            LogKept(keep.Path, keep.Reason);
        }

        if (report.CleanedAnything || failures.Count > 0)
        {
            LogSwept(string.Join(", ", roots), unmounted.Count, detached.Count, deleted.Count, failures.Count);
        }

        return report;
    }

    private static List<string> CanonicalRoots(IReadOnlyList<string> roots)
    {
        ArgumentNullException.ThrowIfNull(roots);
        var canonical = new List<string>();
        foreach (string root in roots)
        {
            ArgumentException.ThrowIfNullOrEmpty(root);
            string full = Path.GetFullPath(root);
            if (!Directory.Exists(full))
            {
                continue;
            }

            string real = LibC.RealPath(full);
            if (real == "/")
            {
                throw new ArgumentException("The root directory cannot be a sweep root: everything would be ours.", nameof(roots));
            }

            canonical.Add(real);
        }

        return canonical;
    }

    // statfs(2) always reaches the server; on a thread of its own, so that a mount nobody serves (its descriptor kept
    // by someone who does not answer) costs a blocked thread, not a hung sweep.
    private FuseConnectionState Probe(MountEntry mount)
    {
        int errno = -1;
        var thread = new Thread(() => errno = LibC.StatFs(mount.MountPoint)) { IsBackground = true, Name = "accel-stale-probe" };
        thread.Start();
        if (!thread.Join(_options.ProbeTimeout))
        {
            LogProbeTimedOut(mount.MountPoint, _options.ProbeTimeout);
            return FuseConnectionState.Unknown;
        }

        return errno switch
        {
            0 => FuseConnectionState.Live,
            Errno.ENOTCONN or Errno.ECONNABORTED => FuseConnectionState.Dead,
            _ => FuseConnectionState.Unknown,
        };
    }

    private void Unmount(MountEntry mount, string reason, List<string> unmounted, List<string> failures)
    {
        // The table may have changed since the plan: unmount only if the mount on top at that point is still this one.
        if (MountTable.Find(MountTable.Read(), mount.MountPoint) is not { } top || top.Id != mount.Id)
        {
            return;
        }

        try
        {
            if (FileSystemMount.Unmount(mount.MountPoint))
            {
                unmounted.Add(mount.MountPoint);
                LogUnmounted(mount.FileSystemType, mount.MountPoint, reason);
            }
        }
        catch (IOException ex)
        {
            failures.Add($"unmounting {mount.MountPoint}: {ex.Message}");
            LogFailed(mount.MountPoint, ex);
        }
    }

    private async Task DetachAsync(AttachedLoopDevice loop, List<string> detached, List<string> failures, CancellationToken cancellationToken)
    {
        // The device may have been freed and attached again since the plan: detach only if it is still backed by that file.
        if (!LoopDevice.ListAttached().Contains(loop))
        {
            return;
        }

        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(30));
            await LoopDevice.DetachAsync(loop.Device, timeout.Token).ConfigureAwait(false);
            detached.Add(loop.Device);
            LogDetached(loop.Device, loop.BackingFile, loop.Deleted ? "its backing file was deleted" : "its backing file is on a stale mount");
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            failures.Add($"detaching {loop.Device}: {ex.Message}");
            LogFailed(loop.Device, ex);
        }
    }

    private List<string> DeleteDirectories(List<string> stateDirectories, Func<string, bool> isHeld, Dictionary<string, StaleSweepKept> kept, List<string> failures)
    {
        var deleted = new List<string>();
        if (stateDirectories.Count == 0)
        {
            return deleted;
        }

        var mounts = MountTable.Read();
        var loops = LoopDevice.ListAttached();
        long now = _time.GetUtcNow().ToUnixTimeSeconds();
        foreach (string parent in stateDirectories.Distinct(StringComparer.Ordinal))
        {
            foreach (string directory in Directory.EnumerateDirectories(parent))
            {
                string name = Path.GetFileName(directory);
                if (!_options.PrivateDirectoryPrefixes.Any(p => name.StartsWith(p, StringComparison.Ordinal)))
                {
                    continue;
                }

                string? reason = KeepReason(directory, isHeld, mounts, loops, now);
                if (reason is not null)
                {
                    kept[directory] = new StaleSweepKept(directory, reason);
                    continue;
                }

                try
                {
                    FileTree.DeleteOnOneFileSystem(directory);
                    deleted.Add(directory);
                    LogDeleted(directory);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    failures.Add($"deleting {directory}: {ex.Message}");
                    LogFailed(directory, ex);
                }
            }
        }

        return deleted;
    }

    private string? KeepReason(string directory, Func<string, bool> isHeld, IReadOnlyList<MountEntry> mounts, IReadOnlyList<AttachedLoopDevice> loops, long now)
    {
        if (LibC.Lstat(LibC.AT_FDCWD, directory) is not { IsDirectory: true } status)
        {
            return "not a directory (a symbolic link is never followed)";
        }

        if (isHeld(directory))
        {
            return "held for a takeover";
        }

        if (DirectoryOwner.Read(directory) is { } owner)
        {
            if (owner.IsRunning())
            {
                return $"its owner, process {owner.Pid}, runs";
            }
        }
        else if (now - status.MtimeSeconds < (long)_options.UnrecordedDirectoryGrace.TotalSeconds)
        {
            return "no owner recorded yet and newer than the grace period";
        }

        return StaleStatePlanner.InUse(directory, mounts, loops);
    }

    [LoggerMessage(1, LogLevel.Warning, "Stale state: unmounted {FileSystemType} at {MountPoint} ({Reason})")]
    private partial void LogUnmounted(string fileSystemType, string mountPoint, string reason);

    [LoggerMessage(2, LogLevel.Warning, "Stale state: detached {Device}, backed by {BackingFile} ({Reason})")]
    private partial void LogDetached(string device, string backingFile, string reason);

    [LoggerMessage(3, LogLevel.Warning, "Stale state: deleted {Directory} (its owner is gone and nothing uses it)")]
    private partial void LogDeleted(string directory);

    [LoggerMessage(4, LogLevel.Error, "Stale state: cleaning up {Path} failed")]
    private partial void LogFailed(string path, Exception exception);

    [LoggerMessage(5, LogLevel.Warning, "Stale state: {MountPoint} did not answer statfs within {Timeout}; left alone")]
    private partial void LogProbeTimedOut(string mountPoint, TimeSpan timeout);

    [LoggerMessage(7, LogLevel.Debug, "Stale state: kept {Path} ({Reason})")]
    private partial void LogKept(string path, string reason);

    [LoggerMessage(6, LogLevel.Information, "Stale state under {Roots}: {Unmounted} mounts unmounted, {Detached} loop devices detached, {Deleted} directories deleted, {Failures} failures")]
    private partial void LogSwept(string roots, int unmounted, int detached, int deleted, int failures);
}
