using Accelerator.Fuse.Takeover;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Accelerator.Snapshotter.Hosting;

/// <summary>
/// The node daemon's stale-state sweep: at start, before the snapshotter serves, what a killed daemon left under its
/// root and could not be taken over — dead FUSE mounts of remote images (<c>ROOT/remote/ID/mnt</c>), the file systems
/// and loop devices on them, and the lazy and block mounters' private directories (<c>ROOT/lazy/lazy-*</c>,
/// <c>ROOT/block/block-*</c>) of dead processes — is removed (<see cref="StaleMountSweeper"/>). Containers' own
/// overlays (containerd's, outside the root) are never touched.
/// </summary>
public sealed partial class SnapshotterStaleState : IHostedService
{
    private readonly SnapshotterOptions _options;
    private readonly IEnumerable<IHeldMounts> _held;
    private readonly ILogger _logger;
    private readonly StaleMountSweeper _sweeper;

    /// <summary>Creates the sweep; the host runs it before the snapshotter starts.</summary>
    public SnapshotterStaleState(IOptions<SnapshotterOptions> options, IEnumerable<IHeldMounts> held, ILoggerFactory? loggerFactory = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _held = held;
        _logger = (ILogger?)loggerFactory?.CreateLogger<SnapshotterStaleState>() ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        _sweeper = new StaleMountSweeper(logger: loggerFactory?.CreateLogger<StaleMountSweeper>(), timeProvider: time);
    }

    /// <summary>What the last sweep did; null before it ran.</summary>
    public StaleSweepReport? Report { get; private set; }

    /// <summary>The sweep's scope for the daemon whose root is <paramref name="root"/>: the root, and the mounters' state directories in it.</summary>
    public static StaleSweepScope ScopeFor(string root, Func<string, bool>? isHeld = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        string full = Path.GetFullPath(root);
        return new StaleSweepScope
        {
            Roots = [full],
            StateDirectories = [Path.Combine(full, "lazy"), Path.Combine(full, "block")],
            IsHeld = isHeld,
        };
    }

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var held = new List<string>();
        foreach (var source in _held)
        {
            held.AddRange(await source.GetHeldPathsAsync(cancellationToken).ConfigureAwait(false));
        }

        try
        {
            Report = await _sweeper.SweepAsync(ScopeFor(_options.Root, held.Count == 0 ? null : StaleSweepScope.HeldAtOrUnder(held)), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            // The daemon serves anyway: stale mounts only waste a loop device or a directory.
            LogSweepFailed(_options.Root, ex);
        }
    }

    /// <inheritdoc />
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(1, LogLevel.Error, "Cleaning up stale state under {Root} failed")]
    private partial void LogSweepFailed(string root, Exception exception);
}
