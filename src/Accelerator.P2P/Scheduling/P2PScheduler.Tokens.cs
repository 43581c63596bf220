using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Accelerator.P2P.Protocol;

namespace Accelerator.P2P.Scheduling;

public sealed partial class P2PScheduler
{
    // Task tokens. A task is a blob digest at one registry. With a TokenLifetime L, time (the UTC clock) is cut into epochs
    // of L/2; the token of epoch e is HMAC-SHA256(key, "accel-p2p-task2\0" + registry + "\0" + digest + "\0" + e) (the
    // registry lower-cased, host[:port]) and expires at the end of epoch e + 1, so it lives between
    // L/2 and L. Every peer registering in the same epoch gets the same token, so a parent compares a child's token with
    // the ones it holds itself, in constant time, without asking the scheduler. The scheduler hands each member the
    // token of a new epoch with its next schedule or heartbeat answer, while the previous token is still valid. With
    // L = 0 the token is HMAC-SHA256(key, "accel-p2p-task2\0" + registry + "\0" + digest), which never expires. Binding the
    // registry means a token earned by an access check at one registry never opens pieces registered at another.

    /// <summary>
    /// The token for the task of <paramref name="task"/> at <paramref name="registry"/> issued now, base64url (the same for
    /// every peer in this token epoch).
    /// </summary>
    public string GetToken(string registry, Digest task)
    {
        ArgumentException.ThrowIfNullOrEmpty(registry);
        return TokenFor(TaskKey.Of(registry, task), TokenEpoch());
    }

    private bool TokensExpire => _options.TokenLifetime > TimeSpan.Zero;

    private long HalfLifetimeMs => (long)(_options.TokenLifetime.TotalMilliseconds / 2);

    private long TokenEpoch() => TokensExpire ? _time.GetUtcNow().ToUnixTimeMilliseconds() / HalfLifetimeMs : 0;

    private string TokenFor(TaskKey task, long epoch)
    {
        string message = TokensExpire
            ? "accel-p2p-task2\0" + task.Registry + "\0" + task.Digest.Value + "\0" + epoch.ToString(CultureInfo.InvariantCulture)
            : "accel-p2p-task2\0" + task.Registry + "\0" + task.Digest.Value;
        byte[] mac = HMACSHA256.HashData(_tokenKey, Encoding.UTF8.GetBytes(message));
        return Convert.ToBase64String(mac).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    /// <summary>Milliseconds until the token of <paramref name="epoch"/> expires (the end of the next epoch); 0 when tokens never expire.</summary>
    private int TokenExpiresInMs(long epoch)
    {
        if (!TokensExpire)
        {
            return 0;
        }

        long left = ((epoch + 2) * HalfLifetimeMs) - _time.GetUtcNow().ToUnixTimeMilliseconds();
        return (int)Math.Clamp(left, 1, int.MaxValue);
    }

    /// <summary>The renewed token for a member whose last token is from an earlier epoch, or <see langword="null"/>.</summary>
    private TaskToken? RenewToken(TaskState task, TaskMember member)
    {
        if (!TokensExpire)
        {
            return null;
        }

        long epoch = TokenEpoch();
        if (member.TokenEpoch >= epoch)
        {
            return null;
        }

        member.TokenEpoch = epoch;
        _counters.TokensRenewed++;
        return new TaskToken { TaskId = task.Digest.Value, Token = TokenFor(task.Key, epoch), ExpiresInMs = TokenExpiresInMs(epoch) };
    }

    /// <summary>Renewed tokens for every task the peer is a member of (bounded per answer; the rest come with the next).</summary>
    private List<TaskToken> RenewTokens(PeerState peer)
    {
        List<TaskToken> tokens = [];
        if (!TokensExpire)
        {
            return tokens;
        }

        foreach (var task in peer.Tasks)
        {
            if (tokens.Count >= P2PProtocol.MaxResultsPerReport)
            {
                break;
            }

            if (task.Members.TryGetValue(peer.Info.PeerId, out var member) && RenewToken(task, member) is { } token)
            {
                tokens.Add(token);
            }
        }

        return tokens;
    }
}
