using Accelerator.Linux;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Win32.SafeHandles;

namespace Accelerator.Fuse.Takeover;

/// <summary>
/// A mounter's hold on one mount point at the FUSE holder (see <see cref="FuseTakeoverOptions"/>): found at mount
/// time with <see cref="AcquireAsync"/>, which either hands back the live connection a predecessor left (same content,
/// every recorded mount live: resume it) or nothing (mount fresh, then <see cref="DepositAsync"/>). The lease's
/// connection to the holder stays open while the mount is served; when a successor claims the mount point the holder
/// asks for it back: <see cref="OnReleaseRequested"/> runs (the mount stops serving, leaving everything mounted), the
/// connection closes and <see cref="HandedOver"/> completes. Before a real unmount, <see cref="ForgetAsync"/>.
/// </summary>
public sealed partial class FuseMountLease : IAsyncDisposable
{
    private readonly FuseHolderClient _client;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource _handedOver = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _closed;

    private FuseMountLease(FuseHolderClient client, string key, ILogger logger)
    {
        _client = client;
        Key = key;
        _logger = logger;
        _client.ReleaseRequested = ReleaseAsync;
    }

    /// <summary>The mount point this lease holds (canonical): the holder's key.</summary>
    public string Key { get; }

    /// <summary>
    /// Runs when a successor claimed the mount point: stop serving without unmounting anything (the FUSE session stops
    /// reading and answers what it read). The lease then closes its connection, which tells the holder it is done.
    /// </summary>
    public Func<Task>? OnReleaseRequested { get; set; }

    /// <summary>Completes once the mount point was handed to a successor (see <see cref="OnReleaseRequested"/>).</summary>
    public Task HandedOver => _handedOver.Task;

    /// <summary>
    /// Connects to the holder (starting it with <see cref="FuseTakeoverOptions.Launcher"/> if none listens) and looks at
    /// <paramref name="mountPoint"/>. When a live mount of <paramref name="wanted"/>'s content is held there, claims it
    /// (a running predecessor releases it and exits first) and returns its descriptor and state; when nothing usable
    /// is held, returns no connection (a held entry whose mounts are gone is forgotten).
    /// </summary>
    /// <param name="options">The holder.</param>
    /// <param name="mountPoint">The canonical mount point: the key.</param>
    /// <param name="wanted">What the caller would mount: <see cref="FuseTakeoverState.Strategy"/>, <see cref="FuseTakeoverState.Manifest"/>, <see cref="FuseTakeoverState.ReadOnly"/> and <see cref="FuseTakeoverState.Image"/> are compared.</param>
    /// <param name="logger">Where to log.</param>
    /// <param name="cancellationToken">Cancels connecting or claiming.</param>
    /// <exception cref="MountPointHeldException">A live mount of other content (or another strategy's) holds the mount point; nothing was touched.</exception>
    public static async Task<(FuseMountLease Lease, FuseHeldConnection? Held, FuseTakeoverState? State)> AcquireAsync(
        FuseTakeoverOptions options, string mountPoint, FuseTakeoverIdentity wanted, ILogger? logger, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(mountPoint);
        ArgumentNullException.ThrowIfNull(wanted);
        logger ??= NullLogger.Instance;
        var client = await FuseHolderClient.ConnectAsync(options.HolderDirectory, options.Launcher, cancellationToken).ConfigureAwait(false);
        var lease = new FuseMountLease(client, mountPoint, logger);
        try
        {
            var held = (await client.ListAsync(cancellationToken).ConfigureAwait(false)).FirstOrDefault(e => e.Key == mountPoint);
            if (held is null)
            {
                return (lease, null, null);
            }

            var state = FuseTakeoverState.TryParse(held.State);
            if (state is not null && state.Strategy != wanted.Strategy)
            {
                throw new MountPointHeldException(mountPoint, state.Strategy,
                    $"{mountPoint} is held by a live {state.Strategy} mount of {state.Image} ({state.Manifest}), not a {wanted.Strategy} one.");
            }

            if (state is null || state.Manifest != wanted.Manifest || state.ReadOnly != wanted.ReadOnly)
            {
                string what = state is null ? "a mount whose state this version cannot read" : $"{state.Image} ({state.Manifest}, read-only: {state.ReadOnly})";
                throw new MountPointHeldException(mountPoint, state?.Strategy,
                    $"{mountPoint} is already served by a live mount of {what}; it cannot be taken over for {wanted.Image} ({wanted.Manifest}, read-only: {wanted.ReadOnly}). " +
                    $"Unmount it first ('accel umount {mountPoint}').");
            }

            if (DeadMountOf(state) is { } dead)
            {
                LogHeldButDead(logger, mountPoint, dead);
                await client.ForgetAsync(mountPoint, cancellationToken).ConfigureAwait(false);
                return (lease, null, null);
            }

            var connection = await client.ClaimAsync(mountPoint, options.ReleaseTimeout, cancellationToken).ConfigureAwait(false);
            if (connection is null)
            {
                // Dropped between the listing and the claim (unmounted meanwhile): mount fresh.
                return (lease, null, null);
            }

            LogClaimed(logger, mountPoint, state.Image, connection.PredecessorPid);
            return (lease, connection, state);
        }
        catch
        {
            await lease.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Reads which strategy serves <paramref name="mountPoint"/> at the holder in <paramref name="holderDirectory"/>
    /// (null when no holder runs or it holds nothing there). Starts no holder.
    /// </summary>
    public static async Task<string?> ReadHeldStrategyAsync(string holderDirectory, string mountPoint, CancellationToken cancellationToken)
        => (await ListHeldAsync(holderDirectory, cancellationToken).ConfigureAwait(false))
            .FirstOrDefault(h => h.Entry.Key == mountPoint).State?.Strategy;

    /// <summary>
    /// Every path the holder in <paramref name="holderDirectory"/> keeps alive: each key (mount point) and, from its
    /// state, the FUSE mount, the file system mount and the private directory (empty when no holder runs). A mount under
    /// one of them may have no server right now (between a crash and its takeover): never probe it (a <c>stat</c> would
    /// wait for the server), never clean it up. Starts no holder.
    /// </summary>
    public static async Task<IReadOnlyList<string>> ListHeldPathsAsync(string holderDirectory, CancellationToken cancellationToken)
    {
        var paths = new List<string>();
        foreach (var (entry, state) in await ListHeldAsync(holderDirectory, cancellationToken).ConfigureAwait(false))
        {
            paths.Add(entry.Key);
            if (state is not null)
            {
                paths.Add(state.FuseMountPoint);
                paths.Add(state.PrivateDirectory);
                if (state.FileSystemMount is { } mount)
                {
                    paths.Add(mount);
                }
            }
        }

        return paths;
    }

    /// <summary>
    /// Makes the holder in <paramref name="holderDirectory"/> forget <paramref name="mountPoint"/> when it keeps it with
    /// no owner (its server is gone: killed, never taken over) and returns the state it kept, so that the caller tears the
    /// recorded mounts down; null when nothing orphaned is held there. Starts no holder.
    /// </summary>
    public static async Task<FuseTakeoverState?> ForgetOrphanAsync(string holderDirectory, string mountPoint, CancellationToken cancellationToken)
    {
        var (entry, state) = (await ListHeldAsync(holderDirectory, cancellationToken).ConfigureAwait(false)).FirstOrDefault(h => h.Entry.Key == mountPoint);
        if (entry is not { OwnerPid: null } || state is null)
        {
            return null;
        }

        try
        {
            await using var client = await FuseHolderClient.ConnectAsync(holderDirectory, null, cancellationToken).ConfigureAwait(false);
            await client.ForgetAsync(mountPoint, cancellationToken).ConfigureAwait(false);
            return state;
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or FuseHolderException)
        {
            return null;
        }
    }

    // What the holder in the directory keeps, each entry with its parsed state (null when unreadable); empty when no
    // holder answers. Starts no holder.
    private static async Task<IReadOnlyList<(FuseHeldSummary Entry, FuseTakeoverState? State)>> ListHeldAsync(string holderDirectory, CancellationToken cancellationToken)
    {
        if (!File.Exists(Path.Combine(holderDirectory, "holder.sock")))
        {
            return [];
        }

        try
        {
            await using var client = await FuseHolderClient.ConnectAsync(holderDirectory, null, cancellationToken).ConfigureAwait(false);
            return [.. (await client.ListAsync(cancellationToken).ConfigureAwait(false)).Select(e => (e, FuseTakeoverState.TryParse(e.State)))];
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or FuseHolderException)
        {
            // No holder answers (it exited when idle): nothing is held.
            return [];
        }
    }

    /// <summary>Hands a copy of a fresh mount's descriptor and its state to the holder; this lease owns the key from now on.</summary>
    public Task DepositAsync(SafeFileHandle device, FuseTakeoverState state, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(state);
        return _client.DepositAsync(Key, device, state.ToJson(), cancellationToken);
    }

    /// <summary>The mount is being unmounted for real: the holder drops it (failures are logged; the holder drops dead connections itself).</summary>
    public async Task ForgetAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            await _client.ForgetAsync(Key, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or ObjectDisposedException or InvalidOperationException or FuseHolderException)
        {
            LogForgetFailed(_logger, Key, ex);
        }
    }

    /// <summary>Closes the connection to the holder (what it holds stays held, without an owner).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _closed, 1) == 0)
        {
            await _client.DisposeAsync().ConfigureAwait(false);
        }
    }

    // The holder asks for the key back: a successor claimed it. Stop serving (nothing unmounted), then close the
    // connection: that is the acknowledgement the holder waits for before it answers the successor. Done apart from
    // the client's receive loop, which must not wait on its own disposal.
    private Task ReleaseAsync(IReadOnlyList<string> keys)
    {
        _ = Task.Run(async () =>
        {
            LogReleaseRequested(_logger, Key);
            try
            {
                if (OnReleaseRequested is { } release)
                {
                    await release().ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                LogReleaseFailed(_logger, Key, ex);
            }
            finally
            {
                await DisposeAsync().ConfigureAwait(false);
                _handedOver.TrySetResult();
            }
        });
        return Task.CompletedTask;
    }

    // The recorded mounts a successor would adopt, first one missing from mountinfo; null when all are live.
    private static string? DeadMountOf(FuseTakeoverState state)
    {
        var mounts = MountTable.Read();
        var fuse = MountTable.Find(mounts, state.FuseMountPoint);
        if (fuse is not { } entry || entry.Major != 0 || entry.Minor != state.DeviceMinor || !entry.FileSystemType.StartsWith("fuse", StringComparison.Ordinal))
        {
            return state.FuseMountPoint;
        }

        foreach (string? stacked in new[] { state.FileSystemMount, state.Overlay })
        {
            if (stacked is not null && MountTable.Find(mounts, stacked) is null)
            {
                return stacked;
            }
        }

        return state.LoopDevice is { } loop && !File.Exists(loop) ? loop : null;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Took over the mount at {MountPoint} ({Image}) from the holder (predecessor process: {Pid}).")]
    private static partial void LogClaimed(ILogger logger, string mountPoint, string image, int? pid);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The holder held {MountPoint}, but {Missing} is no longer mounted: forgotten, mounting fresh.")]
    private static partial void LogHeldButDead(ILogger logger, string mountPoint, string missing);

    [LoggerMessage(Level = LogLevel.Information, Message = "A successor claimed {MountPoint}: handing it over (left mounted).")]
    private static partial void LogReleaseRequested(ILogger logger, string mountPoint);

    [LoggerMessage(Level = LogLevel.Error, Message = "Handing {MountPoint} over failed; the holder kills this process if it does not let go in time.")]
    private static partial void LogReleaseFailed(ILogger logger, string mountPoint, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Telling the holder to forget {MountPoint} failed.")]
    private static partial void LogForgetFailed(ILogger logger, string mountPoint, Exception exception);
}

/// <summary>What a mounter is about to mount at a mount point, compared with what the holder holds there.</summary>
/// <param name="Strategy">The strategy (<c>lazy</c>, <c>block</c>).</param>
/// <param name="Image">The image reference (for messages).</param>
/// <param name="Manifest">The digest of the manifest to serve.</param>
/// <param name="ReadOnly">Whether the mount point gets the bare read-only tree.</param>
public sealed record FuseTakeoverIdentity(string Strategy, string Image, string Manifest, bool ReadOnly);
