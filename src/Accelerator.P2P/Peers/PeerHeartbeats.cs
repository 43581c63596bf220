using Accelerator.P2P.Protocol;
using Microsoft.Extensions.Logging;

namespace Accelerator.P2P.Peers;

/// <summary>
/// The peer's heartbeats to every scheduler on the ring: who it is and how many upload slots are free; the answers
/// carry its secret, blobs to preheat and renewed task tokens. Each round also announces the pieces that left the store.
/// </summary>
internal sealed class PeerHeartbeats(
    P2PPeerOptions options, SchedulerRegistration registration, PieceReporter reporter, Preheater preheater, PieceServer server, Func<PeerInfo> self, TimeProvider time, ILogger logger)
{
    private readonly P2PPeerOptions _options = options;
    private readonly SchedulerRegistration _registration = registration;
    private readonly PieceReporter _reporter = reporter;
    private readonly Preheater _preheater = preheater;
    private readonly PieceServer _server = server;
    private readonly Func<PeerInfo> _self = self;
    private readonly TimeProvider _time = time;
    private readonly ILogger _logger = logger;

    /// <summary>Sends heartbeats every interval (or the shorter one a scheduler asks for) until cancelled; a failed round never ends the loop.</summary>
    public async Task LoopAsync(CancellationToken cancellationToken)
    {
        var interval = _options.HeartbeatInterval;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(interval, _time, cancellationToken).ConfigureAwait(false);
                interval = await SendAsync(cancellationToken).ConfigureAwait(false);
                await _reporter.AnnounceRemovedAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // A heartbeat round must never end the loop: the next round tries again.
                PeerLog.HeartbeatFailed(_logger, ex.Message);
            }
        }
    }

    /// <summary>One heartbeat to every scheduler: takes its secret, preheats and renewed tokens; returns the interval to wait.</summary>
    public async Task<TimeSpan> SendAsync(CancellationToken cancellationToken)
    {
        var interval = _options.HeartbeatInterval;
        var request = new HeartbeatRequest { Peer = _self(), FreeUploadSlots = _server.FreeUploadSlots };
        foreach (var scheduler in _registration.Ring!.Schedulers)
        {
            try
            {
                var answer = await _registration.Client.PostAsync<HeartbeatRequest, HeartbeatResponse>(scheduler, P2PProtocol.HeartbeatPath, request, cancellationToken).ConfigureAwait(false);
                _registration.MarkAlive(scheduler);
                _registration.TakeSecret(scheduler, answer!.PeerSecret);
                interval = TimeSpan.FromMilliseconds(Math.Min(answer!.IntervalMs, interval.TotalMilliseconds));
                foreach (var blob in answer.Preheat)
                {
                    _preheater.Start(blob);
                }

                _registration.RenewTokens(scheduler, answer.Tokens);
            }
            catch (SchedulerUnavailableException ex)
            {
                _registration.MarkDead(scheduler);
                PeerLog.SchedulerUnavailable(_logger, scheduler, ex.Message);
            }
            catch (SchedulerRejectedException ex)
            {
                PeerLog.SchedulerUnavailable(_logger, scheduler, ex.Message);
            }
        }

        return interval;
    }
}
