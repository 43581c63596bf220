using Accelerator.Oci.Mirrors;
using Microsoft.Extensions.Time.Testing;

namespace Accelerator.Oci.Tests.Mirrors;

/// <summary>The per-host circuit breaker: opens after consecutive failures, backs off exponentially, recovers.</summary>
public sealed class HostHealthTests
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2025-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));

    [Fact]
    public void RecordFailure_BelowThreshold_StaysAvailable()
    {
        var health = new HostHealth(_time, threshold: 3, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1));
        Assert.Null(health.RecordFailure());
        Assert.Null(health.RecordFailure());
        Assert.True(health.IsAvailable);
        Assert.NotNull(health.RecordFailure());
        Assert.False(health.IsAvailable);
    }

    [Fact]
    public void RecordFailure_Repeated_BackoffDoublesUpToMaximum()
    {
        var health = new HostHealth(_time, threshold: 1, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5));
        var backoffs = Enumerable.Range(0, 5).Select(_ => health.RecordFailure()!.Value.TotalSeconds).ToList();
        Assert.Equal([1, 2, 4, 5, 5], backoffs);
    }

    [Fact]
    public void IsAvailable_AfterBackoff_TriedAgainAndSuccessCloses()
    {
        var health = new HostHealth(_time, threshold: 2, TimeSpan.FromSeconds(2), TimeSpan.FromMinutes(1));
        health.RecordFailure();
        health.RecordFailure();
        Assert.False(health.IsAvailable);
        _time.Advance(TimeSpan.FromSeconds(1.9));
        Assert.False(health.IsAvailable);
        _time.Advance(TimeSpan.FromSeconds(0.2));
        Assert.True(health.IsAvailable);

        // Half-open: one more failure reopens it for twice as long.
        Assert.Equal(TimeSpan.FromSeconds(4), health.RecordFailure());
        _time.Advance(TimeSpan.FromSeconds(4));
        Assert.True(health.IsAvailable);
        Assert.True(health.RecordSuccess());
        Assert.Equal(0, health.ConsecutiveFailures);
        Assert.Null(health.RecordFailure());
        Assert.True(health.IsAvailable);
    }
}
