using Accelerator.P2P.Peers;
using Microsoft.Extensions.Time.Testing;

namespace Accelerator.P2P.Tests.Peers;

public sealed class BandwidthLimiterTests
{
    [Fact]
    public async Task WaitAsync_BeyondTheBurst_WaitsUntilTheRatePaysTheDebt()
    {
        var time = new FakeTimeProvider();
        var limiter = new BandwidthLimiter(1_000_000, time);

        await limiter.WaitAsync(100_000, default); // the burst: a tenth of a second
        var second = limiter.WaitAsync(50_000, default).AsTask();

        Assert.False(second.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(49));
        Assert.False(second.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(1));
        await second;
    }

    [Fact]
    public async Task WaitAsync_Unlimited_NeverWaits()
    {
        var limiter = new BandwidthLimiter(0, new FakeTimeProvider());
        for (int i = 0; i < 100; i++)
        {
            Assert.True(limiter.WaitAsync(1 << 20, default).IsCompleted);
        }

        await limiter.WaitAsync(1, default);
    }
}
