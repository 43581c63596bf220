using Accelerator.P2P.Protocol;

namespace Accelerator.P2P.Scheduling;

/// <summary>A set with O(1) add, remove and random pick (swap-remove over a list).</summary>
internal sealed class IndexedSet<T> where T : notnull
{
    private readonly List<T> _items = [];
    private readonly Dictionary<T, int> _index = [];

    public int Count => _items.Count;

    public T this[int i] => _items[i];

    public bool Contains(T item) => _index.ContainsKey(item);

    public bool Add(T item)
    {
        if (!_index.TryAdd(item, _items.Count))
        {
            return false;
        }

        _items.Add(item);
        return true;
    }

    public bool Remove(T item)
    {
        if (!_index.Remove(item, out int i))
        {
            return false;
        }

        int last = _items.Count - 1;
        if (i != last)
        {
            _items[i] = _items[last];
            _index[_items[i]] = i;
        }

        _items.RemoveAt(last);
        return true;
    }

    public void Clear()
    {
        _items.Clear();
        _index.Clear();
    }
}

/// <summary>A task's identity: the blob digest at the registry where the access check proved it readable.</summary>
internal readonly record struct TaskKey(string Registry, Digest Digest)
{
    public static TaskKey Of(string registry, Digest digest) => new(registry.ToLowerInvariant(), digest);
}

internal sealed class PeerState(PeerInfo info, long now, string secret)
{
    public PeerInfo Info { get; set; } = info;

    // Issued at first contact; every later request naming this peer must carry it (compared in constant time).
    public byte[] Secret { get; } = System.Text.Encoding.UTF8.GetBytes(secret);

    // Registrations counted in the current rate window (for MaxRegistrationsPerPeerPerMinute).
    public long RegistrationWindowStart { get; set; } = now;

    public int RegistrationsInWindow { get; set; }

    // The task this peer is a member of per digest: one registry per digest at a time.
    public Dictionary<Digest, TaskState> TaskByDigest { get; } = [];

    public long LastSeen { get; set; } = now;

    public int FreeUploadSlots { get; set; } = info.UploadSlots;

    // Pieces the scheduler has sent children to fetch from this peer and not yet heard about.
    public int AssignedUploads { get; set; }

    // The upload slots the scheduler hands out for this peer (a peer announcing none still gets one).
    public int Slots => Math.Max(1, Info.UploadSlots);

    public bool HasFreeSlot => AssignedUploads < Slots;

    public long Successes { get; set; }

    public long Failures { get; set; }

    public HashSet<TaskState> Tasks { get; } = [];

    public List<BlobRef> PendingPreheat { get; } = [];
}

internal sealed class PieceState
{
    public Digest? Digest { get; set; }

    public string? DigestReporter { get; set; }

    public IndexedSet<string> Holders { get; } = new();

    // The holders with an upload slot the scheduler has not handed out: the parents a child can be sent to now.
    public IndexedSet<string> FreeHolders { get; } = new();

    public string? SourceLease { get; set; }

    public long SourceLeaseUntil { get; set; }
}

// Parents: every parent named for the piece (the child may try each in turn); Parent, the first, holds the slot.
internal readonly record struct PieceLease(string? Parent, long Until, IReadOnlyList<string>? Parents = null)
{
    public bool Named(string parentId) => Parents is { } parents ? parents.Contains(parentId) : Parent == parentId;
}

internal sealed class TaskMember(PeerState peer, int pieceCount)
{
    public PeerState Peer { get; } = peer;

    public bool[] Held { get; } = new bool[pieceCount];

    public int HeldCount { get; set; }

    // The piece digest each held piece was accepted under, to tell a complaint about the current digests from a stale one.
    public Digest?[] HeldUnder { get; } = new Digest?[pieceCount];

    public Dictionary<int, PieceLease> InFlight { get; } = [];

    // The token epoch of the last token the member was given (at registration or a renewal).
    public long TokenEpoch { get; set; }
}

internal sealed class TaskState(TaskKey key, long size, int pieceSize, int pieceCount)
{
    public TaskKey Key { get; } = key;

    public Digest Digest => Key.Digest;

    public long Size { get; } = size;

    public int PieceSize { get; } = pieceSize;

    public int PieceCount { get; } = pieceCount;

    public PieceState[] Pieces { get; } = CreatePieces(pieceCount);

    public Dictionary<string, TaskMember> Members { get; } = new(StringComparer.Ordinal);

    // The seed members, kept apart so "is a seed on this task?" costs O(seeds), not O(members).
    public HashSet<TaskMember> Seeds { get; } = [];

    public Dictionary<string, int> ParentFailures { get; } = new(StringComparer.Ordinal);

    public HashSet<string> Banned { get; } = new(StringComparer.Ordinal);

    // The pieces with a back-to-source lease (some may have run out), so counting reads at the registry costs O(leases).
    public HashSet<int> OriginLeases { get; } = [];

    public void SetSourceLease(int index, string peerId, long until)
    {
        Pieces[index].SourceLease = peerId;
        Pieces[index].SourceLeaseUntil = until;
        OriginLeases.Add(index);
    }

    public void ClearSourceLease(int index)
    {
        Pieces[index].SourceLease = null;
        OriginLeases.Remove(index);
    }

    /// <summary>The back-to-source leases still running at <paramref name="now"/>.</summary>
    public int ActiveOriginReads(long now)
    {
        int active = 0;
        foreach (int index in OriginLeases)
        {
            if (Pieces[index].SourceLeaseUntil > now)
            {
                active++;
            }
        }

        return active;
    }

    private static PieceState[] CreatePieces(int count)
    {
        var pieces = new PieceState[count];
        for (int i = 0; i < count; i++)
        {
            pieces[i] = new PieceState();
        }

        return pieces;
    }
}
