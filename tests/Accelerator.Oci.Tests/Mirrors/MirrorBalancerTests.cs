using Accelerator.Oci.Mirrors;
using Accelerator.Oci.Registry;

namespace Accelerator.Oci.Tests.Mirrors;

/// <summary>The load-balancing policies over mirror routes.</summary>
public sealed class MirrorBalancerTests : IDisposable
{
    private readonly RegistryClient _client = new(new RegistryOptions());

    public void Dispose() => _client.Dispose();

    [Fact]
    public void RoundRobin_ManyReads_EachMirrorFirstInTurn()
    {
        var mirrors = Mirrors(3);
        var balancer = MirrorBalancer.Create(LoadBalancingPolicy.RoundRobin, mirrors, 100);
        var firsts = Enumerable.Range(0, 300).Select(i => balancer.Order(mirrors, Digest(i))[0].Key).ToList();
        Assert.All(mirrors, m => Assert.Equal(100, firsts.Count(k => k == m.Key)));
        Assert.All(Enumerable.Range(0, 10), i => Assert.Equal(3, balancer.Order(mirrors, Digest(i)).Distinct().Count()));
    }

    [Fact]
    public void LeastOutstanding_BusyMirrors_IdleOneFirst()
    {
        var mirrors = Mirrors(3);
        var balancer = MirrorBalancer.Create(LoadBalancingPolicy.LeastOutstandingRequests, mirrors, 100);
        using var a = mirrors[0].Host.Begin();
        using var b1 = mirrors[1].Host.Begin();
        using var b2 = mirrors[1].Host.Begin();
        for (int i = 0; i < 20; i++)
        {
            Assert.Equal([mirrors[2], mirrors[0], mirrors[1]], balancer.Order(mirrors, Digest(i)));
        }

        // Equal loads: spread, not always the same mirror.
        var idle = Mirrors(3, "idle");
        var idleBalancer = MirrorBalancer.Create(LoadBalancingPolicy.LeastOutstandingRequests, idle, 100);
        Assert.Equal(3, Enumerable.Range(0, 30).Select(i => idleBalancer.Order(idle, Digest(i))[0]).Distinct().Count());
    }

    [Fact]
    public void ConsistentHash_SameDigest_SameMirrorAcrossClients()
    {
        var first = MirrorBalancer.Create(LoadBalancingPolicy.ConsistentHash, Mirrors(3), 160);
        var otherMirrors = Mirrors(3);
        // Another client lists the same mirrors in another order: the ring depends on host keys only.
        otherMirrors.Reverse();
        var second = MirrorBalancer.Create(LoadBalancingPolicy.ConsistentHash, otherMirrors, 160);
        for (int i = 0; i < 500; i++)
        {
            Assert.Equal(first.Order(Mirrors(3), Digest(i))[0].Key, second.Order(otherMirrors, Digest(i))[0].Key);
        }
    }

    [Fact]
    public void ConsistentHash_ManyDigests_EvenShares()
    {
        var mirrors = Mirrors(3);
        var balancer = MirrorBalancer.Create(LoadBalancingPolicy.ConsistentHash, mirrors, 160);
        var shares = Enumerable.Range(0, 3000).GroupBy(i => balancer.Order(mirrors, Digest(i))[0].Key).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(3, shares.Count);
        Assert.All(shares.Values, count => Assert.InRange(count, 800, 1200));
    }

    [Fact]
    public void ConsistentHash_OneMirrorDown_OnlyItsShareMoves()
    {
        var mirrors = Mirrors(3);
        var balancer = MirrorBalancer.Create(LoadBalancingPolicy.ConsistentHash, mirrors, 160);
        var up = mirrors.Where(m => m.Key != mirrors[1].Key).ToList();
        int moved = 0;
        for (int i = 0; i < 3000; i++)
        {
            string before = balancer.Order(mirrors, Digest(i))[0].Key;
            string after = balancer.Order(up, Digest(i))[0].Key;
            if (before != mirrors[1].Key)
            {
                Assert.Equal(before, after);
            }
            else
            {
                moved++;
                // The next mirror on the ring takes it: the failover order already named it second.
                Assert.Equal(balancer.Order(mirrors, Digest(i))[1].Key, after);
            }
        }

        Assert.InRange(moved, 800, 1200);
    }

    [Fact]
    public void Ordered_AlwaysConfiguredOrder()
    {
        var mirrors = Mirrors(3);
        var balancer = MirrorBalancer.Create(LoadBalancingPolicy.Ordered, mirrors, 1);
        Assert.Equal(mirrors, balancer.Order(mirrors, Digest(1)));
    }

    private List<MirrorRoute> Mirrors(int count, string prefix = "mirror")
        => Enumerable.Range(0, count)
            .Select(i => new MirrorRoute(new MirrorHost($"{prefix}-{i}.example:5000", _client, new HostHealth(TimeProvider.System, 1, TimeSpan.Zero, TimeSpan.Zero)), MirrorCapabilities.Pull, isOrigin: false))
            .ToList();

    private static Digest Digest(int i) => Accelerator.Digest.Compute(BitConverter.GetBytes(i));
}
