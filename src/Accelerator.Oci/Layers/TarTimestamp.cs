namespace Accelerator.Oci.Layers;

/// <summary>A point in time as seconds since the Unix epoch plus nanoseconds, exactly as tar and the kernel keep it.</summary>
/// <param name="Seconds">Whole seconds since 1970-01-01T00:00:00Z (negative before it).</param>
/// <param name="Nanoseconds">Nanoseconds within the second, 0 to 999,999,999.</param>
public readonly record struct TarTimestamp(long Seconds, int Nanoseconds)
{
    /// <summary>The time as a <see cref="DateTimeOffset"/> (UTC), truncated to 100 ns ticks.</summary>
    public DateTimeOffset ToDateTimeOffset() =>
        DateTimeOffset.UnixEpoch.AddTicks((Seconds * TimeSpan.TicksPerSecond) + (Nanoseconds / 100));

    /// <summary>The time of <paramref name="value"/>, to 100 ns.</summary>
    public static TarTimestamp FromDateTimeOffset(DateTimeOffset value)
    {
        long ticks = (value.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks);
        long seconds = Math.DivRem(ticks, TimeSpan.TicksPerSecond, out long rem);
        if (rem < 0)
        {
            seconds--;
            rem += TimeSpan.TicksPerSecond;
        }

        return new TarTimestamp(seconds, (int)(rem * 100));
    }

    /// <inheritdoc />
    public override string ToString() => $"{Seconds}.{Nanoseconds:D9}";
}
