using System.Security.Cryptography;
using System.Text;
using Accelerator.P2P.Protocol;

namespace Accelerator.P2P.Scheduling;

public sealed partial class P2PScheduler
{
    // Peer authentication. A peer id is only a name: the scheduler hands each peer a random secret at first contact (the
    // first heartbeat or registration naming an id it does not know) and from then on refuses every request naming that
    // peer without it. A peer the scheduler forgot (it left, fell silent for the TTL, or the scheduler restarted) is a
    // first contact again and gets a new secret; so at worst someone who claims an id while its owner is away keeps that
    // owner out until the claim lapses, and never takes over a peer the scheduler knows.

    /// <summary>
    /// Authenticates a request that may be a peer's first contact (a heartbeat or a registration): a known peer must
    /// present its secret; an unknown one is added and given a new secret, which is returned (send it back to the peer).
    /// Returns <see langword="null"/> when the peer authenticated with its secret.
    /// </summary>
    /// <exception cref="PeerAuthenticationException">The peer is known and <paramref name="presentedSecret"/> is not its secret.</exception>
    /// <exception cref="P2PLimitException">The peer is new and the scheduler knows <see cref="P2PSchedulerOptions.MaxPeers"/> peers.</exception>
    public string? AuthenticatePeer(PeerInfo peer, string? presentedSecret)
    {
        ArgumentNullException.ThrowIfNull(peer);
        lock (_lock)
        {
            long now = Now();
            if (_peers.TryGetValue(peer.PeerId, out var known))
            {
                Verify(known, presentedSecret);
                return null;
            }

            MaybeSweep(now);
            string secret = NewSecret();
            AddPeer(new PeerState(peer, now, secret));
            Log.PeerJoined(_logger, peer.PeerId, peer.Url, peer.Seed);
            return secret;
        }
    }

    /// <summary>Authenticates a request naming a peer the scheduler must already know (schedule, reports, complete, leave).</summary>
    /// <exception cref="KeyNotFoundException">The peer is not known (it registers again, which is a first contact).</exception>
    /// <exception cref="PeerAuthenticationException"><paramref name="presentedSecret"/> is not the peer's secret.</exception>
    public void AuthenticatePeer(string peerId, string? presentedSecret)
    {
        ArgumentNullException.ThrowIfNull(peerId);
        lock (_lock)
        {
            if (!_peers.TryGetValue(peerId, out var known))
            {
                throw new KeyNotFoundException($"Peer '{peerId}' is not known (register again).");
            }

            Verify(known, presentedSecret);
        }
    }

    private void Verify(PeerState peer, string? presented)
    {
        byte[] bytes = presented is { Length: > 0 and <= P2PProtocol.MaxPeerSecretLength } ? Encoding.UTF8.GetBytes(presented) : [];
        if (!CryptographicOperations.FixedTimeEquals(bytes, peer.Secret))
        {
            _counters.PeerAuthFailures++;
            throw new PeerAuthenticationException($"Peer '{peer.Info.PeerId}' is known to this scheduler and the request does not carry its secret.");
        }
    }

    private static string NewSecret() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private void AddPeer(PeerState peer)
    {
        if (_peers.Count >= _options.MaxPeers)
        {
            SweepLocked(Now());
            if (_peers.Count >= _options.MaxPeers)
            {
                _counters.PeersRefused++;
                throw new P2PLimitException(P2PLimitException.Full, "The scheduler knows as many peers as it may hold; read from the registry.");
            }
        }

        _peers.Add(peer.Info.PeerId, peer);
    }

    /// <summary>Counts a registration against the peer's rate (<see cref="P2PSchedulerOptions.MaxRegistrationsPerPeerPerMinute"/>).</summary>
    private void CountRegistration(PeerState peer, long now)
    {
        long minute = (long)_time.TimestampFrequency * 60;
        if (now - peer.RegistrationWindowStart >= minute)
        {
            peer.RegistrationWindowStart = now;
            peer.RegistrationsInWindow = 0;
        }

        if (peer.RegistrationsInWindow >= _options.MaxRegistrationsPerPeerPerMinute)
        {
            _counters.RegistrationsThrottled++;
            throw new P2PLimitException(P2PLimitException.Throttled, $"Peer '{peer.Info.PeerId}' registers more often than this scheduler allows; read from the registry.");
        }

        peer.RegistrationsInWindow++;
    }
}
