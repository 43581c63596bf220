using Accelerator.P2P.Peers;

namespace Accelerator.P2P.Tests.Peers;

public sealed class SchedulerRingTests
{
    private static readonly Uri[] Schedulers = [.. Enumerable.Range(1, 4).Select(i => new Uri($"http://10.0.0.{i}:8002/"))];

    private static string Key(int i) => Digest.Compute(BitConverter.GetBytes(i)).Value;

    [Fact]
    public void GetOrder_EveryKey_ListsEverySchedulerOnceAndIsStable()
    {
        var ring = new SchedulerRing(Schedulers);
        var again = new SchedulerRing(Schedulers.Reverse());
        for (int i = 0; i < 200; i++)
        {
            var order = ring.GetOrder(Key(i));
            Assert.Equal(Schedulers.Length, order.Distinct().Count());
            Assert.Equal(order, again.GetOrder(Key(i)));
        }
    }

    [Fact]
    public void GetOrder_SpreadsTasksOverSchedulers()
    {
        var ring = new SchedulerRing(Schedulers);
        var counts = Enumerable.Range(0, 4000).GroupBy(i => ring.GetOrder(Key(i))[0]).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(Schedulers.Length, counts.Count);
        Assert.All(counts.Values, c => Assert.InRange(c, 500, 1500));
    }

    [Fact]
    public void GetOrder_SchedulerRemoved_OnlyItsTasksMoveAndToTheirNextChoice()
    {
        var ring = new SchedulerRing(Schedulers);
        var smaller = new SchedulerRing(Schedulers.Take(3));
        for (int i = 0; i < 2000; i++)
        {
            var before = ring.GetOrder(Key(i));
            var after = smaller.GetOrder(Key(i));
            // A task keeps its scheduler unless that one left; then it goes where failover would have sent it.
            Assert.Equal(before.Where(s => s != Schedulers[3]), after);
        }
    }

    [Fact]
    public void Constructor_NoScheduler_Throws() => Assert.Throws<ArgumentException>(() => new SchedulerRing([]));
}
