namespace Accelerator;

/// <summary>
/// A point in time as POSIX file systems keep it: seconds since the Unix epoch and nanoseconds within the second
/// (0–999,999,999). Unlike <see cref="DateTimeOffset"/> (100 ns ticks) it keeps a tar or stat time exactly.
/// </summary>
/// <param name="Seconds">Seconds since 1970-01-01T00:00:00Z (negative before it).</param>
/// <param name="Nanoseconds">Nanoseconds within the second, 0–999,999,999.</param>
public readonly record struct UnixTime(long Seconds, int Nanoseconds) : IComparable<UnixTime>
{
    /// <summary>The instant, to 100 ns (the last two digits of <see cref="Nanoseconds"/> are dropped).</summary>
    public DateTimeOffset ToDateTimeOffset()
        => DateTimeOffset.UnixEpoch.AddTicks((Seconds * TimeSpan.TicksPerSecond) + (Nanoseconds / 100));

    /// <summary>The time of <paramref name="value"/>, exact to its 100 ns tick.</summary>
    public static UnixTime FromDateTimeOffset(DateTimeOffset value)
    {
        long ticks = value.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
        long seconds = Math.DivRem(ticks, TimeSpan.TicksPerSecond, out long remainder);
        if (remainder < 0)
        {
            seconds--;
            remainder += TimeSpan.TicksPerSecond;
        }

        return new UnixTime(seconds, (int)(remainder * 100));
    }

    /// <summary>Nanoseconds since the epoch; valid for years 1678–2262.</summary>
    public long TotalNanoseconds => checked((Seconds * 1_000_000_000L) + Nanoseconds);

    /// <inheritdoc />
    public int CompareTo(UnixTime other)
        => Seconds != other.Seconds ? Seconds.CompareTo(other.Seconds) : Nanoseconds.CompareTo(other.Nanoseconds);

    /// <inheritdoc />
    public override string ToString() => $"{Seconds}.{Nanoseconds:D9}";
}
