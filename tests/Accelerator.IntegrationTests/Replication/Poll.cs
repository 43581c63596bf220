namespace Accelerator.IntegrationTests.Replication;

/// <summary>Waiting for a condition another process brings about.</summary>
internal static class Poll
{
    /// <summary>Polls <paramref name="condition"/> every 50 ms for at most <paramref name="timeout"/>.</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"{what}: not within {timeout.TotalSeconds:0} s");
            await Task.Delay(50);
        }
    }
}
