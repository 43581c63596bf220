using Accelerator.Oci.Copying;
using Microsoft.Extensions.Time.Testing;

namespace Accelerator.Oci.Tests.Replication;

/// <summary>The token bucket's accounting on a fake clock (its real-time accuracy is measured by scripts/bench.sh replication).</summary>
public sealed class BandwidthLimiterTests
{
    [Fact]
    public void Take_WithinBurst_NoWait()
    {
        var time = new FakeTimeProvider();
        var limiter = new BandwidthLimiter(1000, burstBytes: 500, time);

        Assert.Equal(TimeSpan.Zero, limiter.Take(500));
        Assert.Equal(500, limiter.TotalBytes);
    }

    [Fact]
    public void Take_OverBurst_WaitsForTheDebtAtTheRate()
    {
        var time = new FakeTimeProvider();
        var limiter = new BandwidthLimiter(1000, burstBytes: 500, time);

        Assert.Equal(TimeSpan.FromSeconds(1.5), limiter.Take(2000));
        // A second caller queues behind the first one's debt.
        Assert.Equal(TimeSpan.FromSeconds(2.5), limiter.Take(1000));
        time.Advance(TimeSpan.FromSeconds(2.5));
        Assert.Equal(TimeSpan.Zero, limiter.Take(0));
    }

    [Fact]
    public void Take_AfterIdle_RefillsUpToBurstOnly()
    {
        var time = new FakeTimeProvider();
        var limiter = new BandwidthLimiter(1000, burstBytes: 500, time);
        limiter.Take(500);

        time.Advance(TimeSpan.FromHours(1));

        Assert.Equal(TimeSpan.Zero, limiter.Take(500));
        Assert.Equal(TimeSpan.FromSeconds(0.1), limiter.Take(100));
    }

    [Fact]
    public async Task AcquireAsync_OverBurst_CompletesOnlyWhenTheClockReachesIt()
    {
        var time = new FakeTimeProvider();
        var limiter = new BandwidthLimiter(1024, burstBytes: 1024, time);
        await limiter.AcquireAsync(1024);

        var wait = limiter.AcquireAsync(2048).AsTask();
        time.Advance(TimeSpan.FromSeconds(1.9));
        Assert.False(wait.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(0.1));
        await wait.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(3072, limiter.TotalBytes);
    }

    /// <summary>Copying through throttled streams on a fake clock: total time is (bytes − burst) / rate, whatever the split.</summary>
    [Fact]
    public async Task ThrottledStreams_ParallelCopies_TotalTimeMatchesTheRate()
    {
        var time = new FakeTimeProvider();
        const int rate = 1024 * 1024;
        var limiter = new BandwidthLimiter(rate, burstBytes: 64 * 1024, time);
        var start = time.GetUtcNow();
        var copies = Enumerable.Range(0, 3).Select(i => Task.Run(async () =>
        {
            await using var throttled = new ThrottledStream(new MemoryStream(new byte[(i + 1) * 1024 * 1024]), limiter);
            await throttled.CopyToAsync(Stream.Null);
        })).ToArray();

        var all = Task.WhenAll(copies);
        while (!all.IsCompleted)
        {
            // Let every copy reach its wait before the clock moves on, so that no simulated time passes unused.
            for (int still = 0; still < 3 && !all.IsCompleted;)
            {
                long before = limiter.TotalBytes;
                await Task.Delay(1);
                still = limiter.TotalBytes == before ? still + 1 : 0;
            }

            time.Advance(TimeSpan.FromMilliseconds(10));
        }

        await all;
        double seconds = (time.GetUtcNow() - start).TotalSeconds;
        double expected = ((6.0 * 1024 * 1024) - (64 * 1024)) / rate;
        Assert.Equal(6 * 1024 * 1024, limiter.TotalBytes);
        Assert.InRange(seconds, expected, expected + 0.1);
    }

    [Fact]
    public void Constructor_InvalidRate_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new BandwidthLimiter(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BandwidthLimiter(10, 0));
        Assert.Equal(20000 * 1024, BandwidthLimiter.FromKilobytesPerSecond(20000).BytesPerSecond);
    }
}
