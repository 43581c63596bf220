using Accelerator.Oci.Copying;
using Microsoft.Extensions.Time.Testing;

namespace Accelerator.Oci.Tests.Copying;

/// <summary>The token bucket's accounting on a fake clock (its real-time accuracy is measured by scripts/bench.sh replication).</summary>
public sealed class BandwidthLimiterTests
{
    [Fact]
    public void Take_FromTheStart_WaitsAtTheRate()
    {
        var time = new FakeTimeProvider();
        var limiter = new BandwidthLimiter(1000, burstBytes: 500, time);

        Assert.Equal(TimeSpan.FromSeconds(0.5), limiter.Take(500));
        Assert.Equal(500, limiter.TotalBytes);
    }

    [Fact]
    public void Take_OverBurst_WaitsForTheDebtAtTheRate()
    {
        var time = new FakeTimeProvider();
        var limiter = new BandwidthLimiter(1000, burstBytes: 500, time);
        time.Advance(TimeSpan.FromHours(1));

        Assert.Equal(TimeSpan.FromSeconds(1.5), limiter.Take(2000));
        // A second caller queues behind the first one's debt.
        Assert.Equal(TimeSpan.FromSeconds(2.5), limiter.Take(1000));
        time.Advance(TimeSpan.FromSeconds(2.5));
        Assert.Equal(TimeSpan.Zero, limiter.Take(0));
    }

    [Fact]
    public void Take_AfterPause_RefillsUpToBurstOnly()
    {
        var time = new FakeTimeProvider();
        var limiter = new BandwidthLimiter(1000, burstBytes: 500, time);

        time.Advance(TimeSpan.FromHours(1));

        Assert.Equal(TimeSpan.Zero, limiter.Take(500));
        Assert.Equal(TimeSpan.FromSeconds(0.1), limiter.Take(100));
    }

    [Fact]
    public async Task AcquireAsync_OverTheTokens_CompletesOnlyWhenTheClockReachesIt()
    {
        var time = new FakeTimeProvider();
        var limiter = new BandwidthLimiter(1024, burstBytes: 1024, time);

        var wait = limiter.AcquireAsync(2048).AsTask();
        time.Advance(TimeSpan.FromSeconds(1.9));
        Assert.False(wait.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(0.1));
        await wait.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(2048, limiter.TotalBytes);
        Assert.True(limiter.AcquireAsync(0).IsCompleted);
    }

    /// <summary>A chunked upload reads a chunk, then pauses to send it: pauses shorter than the burst cost no rate.</summary>
    [Fact]
    public void Take_ChunksWithPauses_TotalTimeIsBytesOverRate()
    {
        var time = new FakeTimeProvider();
        var limiter = new BandwidthLimiter(1000, burstBytes: 400, time);
        var start = time.GetUtcNow();
        for (int chunk = 0; chunk < 10; chunk++)
        {
            for (int read = 0; read < 10; read++)
            {
                time.Advance(limiter.Take(100));
            }

            // Sending the chunk takes 0.3 s, during which nothing is read.
            time.Advance(TimeSpan.FromSeconds(0.3));
        }

        // 10 000 bytes at 1000 B/s: 10 s, plus only the last pause (the others were made up by the refilled bucket).
        Assert.Equal(10.3, (time.GetUtcNow() - start).TotalSeconds, precision: 6);
    }

    /// <summary>Copying through throttled streams on a fake clock: total time is bytes / rate, whatever the split.</summary>
    [Fact]
    public async Task ThrottledStreams_ParallelCopies_TotalTimeMatchesTheRate()
    {
        var time = new FakeTimeProvider();
        const int rate = 1024 * 1024;
        var limiter = new BandwidthLimiter(rate, burstBytes: 256 * 1024, time);
        var start = time.GetUtcNow();
        var copies = Enumerable.Range(0, 3).Select(i => Task.Run(async () =>
        {
            await using var throttled = new ThrottledStream(new MemoryStream(new byte[(i + 1) * 512 * 1024]), limiter);
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

            time.Advance(TimeSpan.FromMilliseconds(50));
        }

        await all;
        double seconds = (time.GetUtcNow() - start).TotalSeconds;
        double expected = 3.0 * 1024 * 1024 / rate;
        Assert.Equal(3 * 1024 * 1024, limiter.TotalBytes);
        Assert.InRange(seconds, expected - 0.01, expected + 0.1);
    }

    /// <summary>A P2P peer's uploads: a limiter that starts full lets the first burst through, then paces the rest.</summary>
    [Fact]
    public async Task AcquireAsync_StartFull_BurstPassesThenWaitsUntilTheRatePaysTheDebt()
    {
        var time = new FakeTimeProvider();
        var limiter = new BandwidthLimiter(1_000_000, burstBytes: 100_000, time, startFull: true);

        Assert.True(limiter.AcquireAsync(100_000).IsCompleted); // the burst: a tenth of a second
        var second = limiter.AcquireAsync(50_000).AsTask();

        Assert.False(second.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(49));
        Assert.False(second.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(1));
        await second.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void Constructor_InvalidRate_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new BandwidthLimiter(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BandwidthLimiter(10, 0));
        Assert.Equal(20000 * 1024, BandwidthLimiter.FromKilobytesPerSecond(20000).BytesPerSecond);
    }
}
