using Accelerator.Replication;

namespace Accelerator.Replication.Tests;

public sealed class RetryBackoffTests
{
    [Theory]
    [InlineData(1, 0.5, 1000)]
    [InlineData(2, 0.5, 2000)]
    [InlineData(4, 0.5, 8000)]
    [InlineData(1, 0.0, 800)]
    [InlineData(1, 1.0, 1200)]
    [InlineData(20, 0.5, 60000)]
    [InlineData(int.MaxValue, 0.99, 60000)]
    public void Delay_DoublesWithJitterUpToTheMaximum(int attempt, double jitter, double expectedMs)
        => Assert.Equal(expectedMs, RetryBackoff.Delay(attempt, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1), jitter).TotalMilliseconds, precision: 6);
}
