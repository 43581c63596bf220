using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Accelerator.Oci.Mirrors;

/// <summary>Puts the mirrors that may serve a digest in the order they should be tried.</summary>
internal interface IMirrorBalancer
{
    /// <summary>
    /// Orders <paramref name="available"/> (a subset of the set's mirrors, in configured order) for a read of
    /// <paramref name="digest"/>: the first is asked first, the rest are the failover order.
    /// </summary>
    IReadOnlyList<MirrorRoute> Order(IReadOnlyList<MirrorRoute> available, Digest digest);
}

/// <summary>Creates the balancer a policy names.</summary>
internal static class MirrorBalancer
{
    public static IMirrorBalancer Create(LoadBalancingPolicy policy, IReadOnlyList<MirrorRoute> mirrors, int virtualNodes) => policy switch
    {
        LoadBalancingPolicy.RoundRobin => new RoundRobinBalancer(),
        LoadBalancingPolicy.LeastOutstandingRequests => new LeastOutstandingRequestsBalancer(),
        LoadBalancingPolicy.ConsistentHash => new ConsistentHashBalancer(mirrors, virtualNodes),
        LoadBalancingPolicy.Ordered => new OrderedBalancer(),
        _ => throw new ArgumentOutOfRangeException(nameof(policy), policy, "Unknown load-balancing policy."),
    };

    internal static List<MirrorRoute> Rotate(IReadOnlyList<MirrorRoute> list, int start)
    {
        var result = new List<MirrorRoute>(list.Count);
        for (int i = 0; i < list.Count; i++)
        {
            result.Add(list[(start + i) % list.Count]);
        }

        return result;
    }
}

/// <summary>The configured order.</summary>
internal sealed class OrderedBalancer : IMirrorBalancer
{
    public IReadOnlyList<MirrorRoute> Order(IReadOnlyList<MirrorRoute> available, Digest digest) => available;
}

/// <summary>Each mirror in turn, from a random start so that many clients started together do not move in step.</summary>
internal sealed class RoundRobinBalancer : IMirrorBalancer
{
    private int _next = Random.Shared.Next();

    public IReadOnlyList<MirrorRoute> Order(IReadOnlyList<MirrorRoute> available, Digest digest)
    {
        if (available.Count <= 1)
        {
            return available;
        }

        int turn = Interlocked.Increment(ref _next) & int.MaxValue;
        return MirrorBalancer.Rotate(available, turn % available.Count);
    }
}

/// <summary>The mirror with the fewest requests in flight first; ties are broken round-robin.</summary>
internal sealed class LeastOutstandingRequestsBalancer : IMirrorBalancer
{
    private int _next = Random.Shared.Next();

    public IReadOnlyList<MirrorRoute> Order(IReadOnlyList<MirrorRoute> available, Digest digest)
    {
        if (available.Count <= 1)
        {
            return available;
        }

        int turn = Interlocked.Increment(ref _next) & int.MaxValue;
        var rotated = MirrorBalancer.Rotate(available, turn % available.Count);
        // A stable sort keeps the rotation among equals.
        return rotated.Select((route, index) => (route, index, load: route.Host.Outstanding))
            .OrderBy(x => x.load)
            .ThenBy(x => x.index)
            .Select(x => x.route)
            .ToList();
    }
}

/// <summary>
/// A hash ring with <c>virtualNodes</c> points per mirror, placed by hashing the mirror's host key, so every client with
/// the same mirrors builds the same ring. A digest is placed by its own leading bytes (already uniform) and served by
/// the first mirror clockwise; when that mirror is unavailable the walk goes on, so only its share moves elsewhere.
/// </summary>
internal sealed class ConsistentHashBalancer : IMirrorBalancer
{
    private readonly ulong[] _points;
    private readonly string[] _owners;

    public ConsistentHashBalancer(IReadOnlyList<MirrorRoute> mirrors, int virtualNodes)
    {
        var ring = new List<(ulong Point, string Owner)>(mirrors.Count * virtualNodes);
        foreach (string key in mirrors.Select(m => m.Key).Distinct(StringComparer.OrdinalIgnoreCase))
        {
            for (int i = 0; i < virtualNodes; i++)
            {
                byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{key.ToLowerInvariant()}#{i.ToString(CultureInfo.InvariantCulture)}"));
                ring.Add((BinaryPrimitives.ReadUInt64BigEndian(hash), key));
            }
        }

        ring.Sort((a, b) => a.Point != b.Point ? a.Point.CompareTo(b.Point) : string.CompareOrdinal(a.Owner, b.Owner));
        _points = ring.Select(r => r.Point).ToArray();
        _owners = ring.Select(r => r.Owner).ToArray();
    }

    public IReadOnlyList<MirrorRoute> Order(IReadOnlyList<MirrorRoute> available, Digest digest)
    {
        if (available.Count <= 1 || _points.Length == 0)
        {
            return available;
        }

        ulong point = Position(digest);
        int start = Array.BinarySearch(_points, point);
        if (start < 0)
        {
            start = ~start;
        }

        var result = new List<MirrorRoute>(available.Count);
        for (int i = 0; i < _points.Length && result.Count < available.Count; i++)
        {
            string owner = _owners[(start + i) % _points.Length];
            foreach (var route in available)
            {
                if (string.Equals(route.Key, owner, StringComparison.OrdinalIgnoreCase) && !result.Contains(route))
                {
                    result.Add(route);
                }
            }
        }

        // Mirrors not on the ring (none, unless the set changed) keep their configured order at the end.
        result.AddRange(available.Where(r => !result.Contains(r)));
        return result;
    }

    /// <summary>The digest's place on the ring: its first 64 bits.</summary>
    internal static ulong Position(Digest digest)
    {
        string encoded = digest.Encoded;
        return encoded.Length >= 16 && ulong.TryParse(encoded.AsSpan(0, 16), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong value)
            ? value
            : BinaryPrimitives.ReadUInt64BigEndian(SHA256.HashData(Encoding.UTF8.GetBytes(digest.ToString())));
    }
}
