using System.Globalization;

namespace Accelerator.Cli.Console;

/// <summary>
/// Sizes, durations and counts, written for people and read from flags. Every size and duration flag of every command
/// is read here, so each accepts the same units and fails with the same kind of message.
/// </summary>
internal static class Units
{
    // Binary multiples, as everywhere in accel: K = 1024 bytes. "KiB" is accepted too (as the output writes it).
    private static readonly (string Suffix, int Shift)[] SizeSuffixes =
    [
        ("KiB", 10), ("MiB", 20), ("GiB", 30), ("TiB", 40),
        ("K", 10), ("M", 20), ("G", 30), ("T", 40), ("B", 0),
    ];

    private static readonly (string Suffix, TimeSpan Unit)[] DurationSuffixes =
    [
        ("ms", TimeSpan.FromMilliseconds(1)), ("s", TimeSpan.FromSeconds(1)), ("m", TimeSpan.FromMinutes(1)),
        ("h", TimeSpan.FromHours(1)), ("d", TimeSpan.FromDays(1)),
    ];

    public static string Bytes(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double value = bytes;
        int unit = 0;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }

        return unit == 0
            ? string.Create(CultureInfo.InvariantCulture, $"{bytes} B")
            : string.Create(CultureInfo.InvariantCulture, $"{value:F1} {units[unit]}");
    }

    /// <summary><paramref name="count"/> and <paramref name="noun"/>, with an "s" unless the count is one.</summary>
    public static string Count(long count, string noun)
        => string.Create(CultureInfo.InvariantCulture, $"{count} {noun}{(count == 1 ? "" : "s")}");

    /// <summary>
    /// Reads a size: a whole number with an optional binary unit, case-insensitive — <c>B</c>, <c>K</c> (1024), <c>M</c>,
    /// <c>G</c>, <c>T</c>, or <c>KiB</c>, <c>MiB</c>, <c>GiB</c>, <c>TiB</c>: <c>512</c>, <c>64K</c>, <c>200M</c>,
    /// <c>10G</c>. A number without a unit counts <paramref name="plainUnit"/> bytes (1 for every flag but those that
    /// took kilobytes before). Zero is refused unless <paramref name="allowZero"/>.
    /// </summary>
    /// <exception cref="FormatException">One message naming <paramref name="option"/> and the text.</exception>
    public static long ParseBytes(string option, string text, bool allowZero = false, long plainUnit = 1)
    {
        ArgumentNullException.ThrowIfNull(text);
        var span = text.AsSpan().Trim();
        long multiplier = plainUnit;
        foreach (var (suffix, shift) in SizeSuffixes)
        {
            if (span.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
            {
                span = span[..^suffix.Length].TrimEnd();
                multiplier = 1L << shift;
                break;
            }
        }

        if (span.IsEmpty || !long.TryParse(span, NumberStyles.None, CultureInfo.InvariantCulture, out long number) || (number == 0 && !allowZero))
        {
            throw new FormatException($"{option}: '{text}' is not a {(allowZero ? "" : "positive ")}size (e.g. {(allowZero ? "0, " : "")}512, 64K, 100M, 10G; binary units).");
        }

        return number <= long.MaxValue / multiplier ? number * multiplier : throw new FormatException($"{option}: '{text}' is too large.");
    }

    /// <summary>
    /// Reads a duration: a whole number with an optional unit — <c>ms</c>, <c>s</c>, <c>m</c>, <c>h</c>, <c>d</c>:
    /// <c>30s</c>, <c>5m</c>, <c>12h</c>, <c>1d</c>. A number without a unit counts <paramref name="plainUnit"/> (seconds
    /// for the flags that took seconds before). Zero is refused unless <paramref name="allowZero"/>.
    /// </summary>
    /// <exception cref="FormatException">One message naming <paramref name="option"/> and the text.</exception>
    public static TimeSpan ParseDuration(string option, string text, TimeSpan plainUnit, bool allowZero = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        var span = text.AsSpan().Trim();
        TimeSpan unit = plainUnit;
        // "ms" is tried before "m" and "s".
        foreach (var (suffix, value) in DurationSuffixes)
        {
            if (span.EndsWith(suffix, StringComparison.Ordinal))
            {
                span = span[..^suffix.Length].TrimEnd();
                unit = value;
                break;
            }
        }

        if (span.IsEmpty || !long.TryParse(span, NumberStyles.None, CultureInfo.InvariantCulture, out long number) || (number == 0 && !allowZero))
        {
            throw new FormatException(
                $"{option}: '{text}' is not a {(allowZero ? "" : "positive ")}duration (e.g. 30s, 5m, 12h, 1d; a number alone is {PlainUnitName(plainUnit)}).");
        }

        return number <= TimeSpan.MaxValue.Ticks / unit.Ticks
            ? TimeSpan.FromTicks(number * unit.Ticks)
            : throw new FormatException($"{option}: '{text}' is too long.");
    }

    private static string PlainUnitName(TimeSpan unit)
        => unit == TimeSpan.FromSeconds(1) ? "seconds" : unit == TimeSpan.FromHours(1) ? "hours" : unit == TimeSpan.FromMilliseconds(1) ? "milliseconds" : unit.ToString();
}
