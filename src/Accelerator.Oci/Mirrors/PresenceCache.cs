using System.Collections.Concurrent;

namespace Accelerator.Oci.Mirrors;

/// <summary>
/// What each host is known to hold: "host H holds manifest D of repository R", learned with a HEAD and kept for a while
/// (a yes longer than a no, since replication may land at any moment). Concurrent askers share one HEAD.
/// </summary>
internal sealed class PresenceCache
{
    private const int MaxEntries = 100_000;

    private readonly TimeProvider _time;
    private readonly TimeSpan _presentFor;
    private readonly TimeSpan _absentFor;

    public PresenceCache(TimeProvider time, TimeSpan presentFor, TimeSpan absentFor)
    {
        _time = time;
        _presentFor = presentFor;
        _absentFor = absentFor;
    }

    private readonly ConcurrentDictionary<(string Host, string Repository, Digest Digest), Entry> _entries = new();

    /// <summary>
    /// Whether <paramref name="host"/> holds <paramref name="digest"/>: the cached answer while fresh, else the answer of
    /// <paramref name="check"/> (which must not throw; false for "no" and for "no answer").
    /// </summary>
    public async ValueTask<bool> HoldsAsync(string host, string repository, Digest digest, Func<Task<bool>> check, CancellationToken cancellationToken)
    {
        var key = (host.ToLowerInvariant(), repository, digest);
        while (true)
        {
            _entries.TryGetValue(key, out var existing);
            if (existing is not null && existing.IsFresh(_time))
            {
                return await existing.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            }

            var fresh = new Entry(this, check);
            bool won = existing is null ? _entries.TryAdd(key, fresh) : _entries.TryUpdate(key, fresh, existing);
            if (won)
            {
                Trim();
                return await fresh.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>The cached answer, if fresh.</summary>
    public bool? Known(string host, string repository, Digest digest)
        => _entries.TryGetValue((host.ToLowerInvariant(), repository, digest), out var entry) && entry.IsFresh(_time) && entry.Task.IsCompletedSuccessfully
            ? entry.Task.Result
            : null;

    /// <summary>Records an answer learned otherwise (a manifest fetched from, or missing at, the host).</summary>
    public void Record(string host, string repository, Digest digest, bool present)
    {
        _entries[(host.ToLowerInvariant(), repository, digest)] = new Entry(this, present);
        Trim();
    }

    private void Trim()
    {
        if (_entries.Count <= MaxEntries)
        {
            return;
        }

        foreach (var (key, entry) in _entries)
        {
            if (!entry.IsFresh(_time))
            {
                _entries.TryRemove(key, out _);
            }
        }

        if (_entries.Count > MaxEntries)
        {
            // Still full of fresh answers: forget them all rather than grow without bound; they are re-learned with a HEAD.
            _entries.Clear();
        }
    }

    private sealed class Entry
    {
        private readonly PresenceCache _owner;
        private readonly Lazy<Task<bool>> _task;
        private long _expiresAtTicks = long.MaxValue;

        public Entry(PresenceCache owner, Func<Task<bool>> check)
        {
            _owner = owner;
            _task = new Lazy<Task<bool>>(() => RunAsync(check));
        }

        public Entry(PresenceCache owner, bool present)
        {
            _owner = owner;
            _task = new Lazy<Task<bool>>(System.Threading.Tasks.Task.FromResult(present));
            Expire(present);
        }

        public Task<bool> Task => _task.Value;

        public bool IsFresh(TimeProvider time) => time.GetUtcNow().UtcTicks < Interlocked.Read(ref _expiresAtTicks);

        private async Task<bool> RunAsync(Func<Task<bool>> check)
        {
            bool present;
            try
            {
                present = await check().ConfigureAwait(false);
            }
            catch (Exception)
            {
                present = false;
            }

            Expire(present);
            return present;
        }

        private void Expire(bool present)
            => Interlocked.Exchange(ref _expiresAtTicks, (_owner._time.GetUtcNow() + (present ? _owner._presentFor : _owner._absentFor)).UtcTicks);
    }
}
