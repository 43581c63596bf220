using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Accelerator.P2P.Peers;

/// <summary>
/// Consistent hashing of tasks over schedulers: 64 virtual nodes per scheduler on a ring of 64-bit hashes (the first
/// eight bytes of SHA-256, big-endian) of <c>URL#n</c>; a task goes to the first node at or after the hash of its digest, and on to the next distinct
/// schedulers when that one is down. Adding or removing a scheduler moves only the tasks of its arcs.
/// </summary>
public sealed class SchedulerRing
{
    private const int VirtualNodes = 64;
    private readonly (ulong Hash, int Scheduler)[] _ring;

    /// <summary>Builds the ring over <paramref name="schedulers"/> (at least one, no duplicates).</summary>
    public SchedulerRing(IEnumerable<Uri> schedulers)
    {
        ArgumentNullException.ThrowIfNull(schedulers);
        Schedulers = [.. schedulers.Distinct()];
        if (Schedulers.Count == 0)
        {
            throw new ArgumentException("At least one scheduler is needed.", nameof(schedulers));
        }

        _ring = new (ulong, int)[Schedulers.Count * VirtualNodes];
        for (int s = 0; s < Schedulers.Count; s++)
        {
            for (int n = 0; n < VirtualNodes; n++)
            {
                _ring[(s * VirtualNodes) + n] = (Hash64($"{Schedulers[s].AbsoluteUri}#{n}"), s);
            }
        }

        Array.Sort(_ring, (a, b) => a.Hash != b.Hash ? a.Hash.CompareTo(b.Hash) : a.Scheduler.CompareTo(b.Scheduler));
    }

    /// <summary>The schedulers, in the order given.</summary>
    public IReadOnlyList<Uri> Schedulers { get; }

    /// <summary>Every scheduler in the order a task tries them: its owner first, then its successors on the ring.</summary>
    public IReadOnlyList<Uri> GetOrder(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        ulong hash = Hash64(key);
        int start = LowerBound(hash);
        var order = new List<Uri>(Schedulers.Count);
        var seen = new bool[Schedulers.Count];
        for (int i = 0; i < _ring.Length && order.Count < Schedulers.Count; i++)
        {
            int s = _ring[(start + i) % _ring.Length].Scheduler;
            if (!seen[s])
            {
                seen[s] = true;
                order.Add(Schedulers[s]);
            }
        }

        return order;
    }

    /// <summary>The first eight bytes, big-endian, of the SHA-256 of the UTF-8 bytes of <paramref name="text"/>.</summary>
    /// <remarks>FNV-1a spreads URLs that differ in a digit or two poorly; SHA-256 spreads anything, at a cost paid once per task.</remarks>
    internal static ulong Hash64(string text)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(text), hash);
        return BinaryPrimitives.ReadUInt64BigEndian(hash);
    }

    private int LowerBound(ulong hash)
    {
        int lo = 0, hi = _ring.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_ring[mid].Hash < hash)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo == _ring.Length ? 0 : lo;
    }
}
