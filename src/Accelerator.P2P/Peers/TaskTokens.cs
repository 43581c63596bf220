using System.Security.Cryptography;
using System.Text;

namespace Accelerator.P2P.Peers;

/// <summary>
/// The tokens a peer holds for one task: the newest is sent to parents; any of them not yet expired opens this peer's
/// pieces to a child. The scheduler renews a task's token (a new one per token epoch) before the previous expires, so
/// during a renewal both are valid. Expiry is kept on this peer's monotonic clock (the scheduler sends "expires in").
/// </summary>
internal sealed class TaskTokens
{
    private const int MaxTokens = 4;
    private const int MaxTokenLength = 256;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private readonly List<Held> _tokens = [];

    /// <summary>Starts with the token of a registration; <paramref name="expiresInMs"/> 0 means it never expires.</summary>
    public TaskTokens(string token, int expiresInMs, TimeProvider time)
    {
        _time = time;
        Add(token, expiresInMs);
    }

    /// <summary>The newest token: the one to send.</summary>
    public string Current
    {
        get
        {
            lock (_lock)
            {
                return _tokens[^1].Text;
            }
        }
    }

    /// <summary>Adds a renewed token (a token already held only has its expiry updated); drops expired ones.</summary>
    public void Add(string token, int expiresInMs)
    {
        ArgumentException.ThrowIfNullOrEmpty(token);
        long now = _time.GetTimestamp();
        long expires = expiresInMs <= 0 ? long.MaxValue : now + (long)(expiresInMs / 1000.0 * _time.TimestampFrequency);
        lock (_lock)
        {
            _tokens.RemoveAll(t => t.Text == token || t.ExpiresAt <= now);
            _tokens.Add(new Held(token, Encoding.UTF8.GetBytes(token), expires));
            if (_tokens.Count > MaxTokens)
            {
                _tokens.RemoveAt(0);
            }
        }
    }

    /// <summary>Whether <paramref name="presented"/> is one of the tokens held and not expired (compared in constant time).</summary>
    public bool Accepts(string presented)
    {
        if (presented.Length is 0 or > MaxTokenLength)
        {
            return false;
        }

        byte[] bytes = Encoding.UTF8.GetBytes(presented);
        long now = _time.GetTimestamp();
        bool accepted = false;
        lock (_lock)
        {
            foreach (var held in _tokens)
            {
                // Every held token is compared, so the time taken does not tell which one matched.
                accepted |= CryptographicOperations.FixedTimeEquals(bytes, held.Bytes) && held.ExpiresAt > now;
            }
        }

        return accepted;
    }

    private sealed record Held(string Text, byte[] Bytes, long ExpiresAt);
}
