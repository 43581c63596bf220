using Accelerator.Hosting;
using Accelerator.Hosting.Health;
using Accelerator.Oci.Validation;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Accelerator.Replication;

/// <summary>
/// Event-driven replication: an HTTP endpoint for docker-registry's notifications (its
/// <c>notifications.endpoints</c>) that replicates every tagged manifest push to the targets of a
/// <see cref="Replicator"/> within seconds. An event is written to a durable queue on disk before the notification is
/// answered 200, so an acknowledged event is never lost: a restart resumes the queue. Each queued tag is retried with
/// exponential backoff until it is replicated; events for the same tag are merged. Also serves <c>/healthz</c> and
/// Prometheus text on <c>/metrics</c>.
/// </summary>
/// <remarks>
/// Notifications are authenticated with a bearer token (401; only a loopback listener may go without), bounded in size
/// (413), and must be well-formed envelopes (400) of the registry's media type (415) naming a configured source
/// registry (403); the queue is bounded (503 when full). A refused notification queues nothing.
/// </remarks>
public sealed partial class ReplicationService : IAsyncDisposable
{
    private const long DrainAllowance = 1024 * 1024;

    private readonly Replicator _replicator;
    private readonly ReplicationServiceOptions _options;
    private readonly ReplicationQueue _queue;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly object _admission = new();
    private KestrelListener? _listener;
    private Task _worker = Task.CompletedTask;
    private TaskCompletionSource _wake = NewWake();
    private long _received;
    private long _queued;
    private long _ignored;
    private long _rejected;
    private long _replicated;
    private long _failures;
    private int _disposed;

    private ReplicationService(Replicator replicator, ReplicationServiceOptions options, ReplicationQueue queue, TimeProvider time, ILogger logger)
    {
        _replicator = replicator;
        _options = options;
        _queue = queue;
        _time = time;
        _logger = logger;
    }

    /// <summary>The base URL the service listens on (with the actual port when port 0 was asked for).</summary>
    public Uri Url { get; private set; } = null!;

    /// <summary>The URL to give docker-registry as its notification endpoint.</summary>
    public Uri EventsUrl => new(Url, _options.EventsPath.TrimStart('/'));

    /// <summary>
    /// Opens the queue in <see cref="ReplicationServiceOptions.DataDirectory"/> (resuming what it holds), starts the
    /// listener and the replication workers, and returns once the listener accepts connections.
    /// </summary>
    public static Task<ReplicationService> StartAsync(
        Replicator replicator, ReplicationServiceOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? time = null, CancellationToken cancellationToken = default)
        => StartAsync(replicator, options, loggerFactory, time, health: null, cancellationToken);

    /// <summary>Starts the service with <paramref name="health"/> answering <c>/healthz</c> and <c>/readyz</c> on its listener.</summary>
    internal static async Task<ReplicationService> StartAsync(
        Replicator replicator, ReplicationServiceOptions options, ILoggerFactory? loggerFactory, TimeProvider? time, HealthEndpoints? health, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(replicator);
        ArgumentNullException.ThrowIfNull(options);
        new ReplicationServiceOptionsValidator().ThrowIfInvalid(options, "replication service");
        loggerFactory ??= NullLoggerFactory.Instance;
        time ??= TimeProvider.System;
        var logger = loggerFactory.CreateLogger<ReplicationService>();
        var queue = ReplicationQueue.Open(options.DataDirectory!, time, logger);
        var service = new ReplicationService(replicator, options, queue, time, logger);
        try
        {
            await service.StartListenerAsync(health, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await service.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        service._worker = Task.Run(() => service.RunWorkersAsync(service._stopping.Token), CancellationToken.None);
        service.LogStarted(service.EventsUrl.ToString(), queue.Count);
        return service;
    }

    /// <summary>Whether the replication workers run (they stop only when the service stops, or on a bug).</summary>
    public bool IsReplicating => !_worker.IsCompleted;

    /// <summary>The counters so far.</summary>
    public ReplicationServiceMetrics GetMetrics() => new(
        Interlocked.Read(ref _received),
        Interlocked.Read(ref _queued),
        Interlocked.Read(ref _ignored),
        Interlocked.Read(ref _rejected),
        Interlocked.Read(ref _replicated),
        Interlocked.Read(ref _failures),
        _queue.Count);

    /// <summary>Stops listening and lets replications in flight end (they stay queued and resume on the next start).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_listener is not null)
        {
            await _listener.DisposeAsync().ConfigureAwait(false);
        }

        try
        {
            await _worker.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        _stopping.Dispose();
    }

    private async Task StartListenerAsync(HealthEndpoints? health, CancellationToken cancellationToken)
    {
        // The handler refuses bodies over the limit (413); Kestrel may read up to 1 MiB more to drain the rest of a
        // refused body, so that the client reads the 413 instead of a reset connection, and closes beyond that.
        _listener = await KestrelListener.StartAsync(_options.Listen!, HandleAsync, _options.MaxRequestBodyBytes + DrainAllowance, cancellationToken, tls: _options.Tls, health: health).ConfigureAwait(false);
        Url = _listener.Url;
    }

    private void Wake() => Interlocked.Exchange(ref _wake, NewWake()).TrySetResult();

    private static TaskCompletionSource NewWake() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
