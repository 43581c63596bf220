using System.Globalization;

namespace Accelerator.Hosting.Layout;

/// <summary>What a <c>Range</c> request header asks of a representation of a known length.</summary>
internal enum HttpByteRangeKind
{
    /// <summary>No usable range (absent, malformed, several ranges, another unit): serve the whole representation.</summary>
    None,

    /// <summary>One satisfiable range: serve <see cref="HttpByteRange.Start"/> and <see cref="HttpByteRange.Length"/> with 206.</summary>
    Satisfiable,

    /// <summary>A well-formed range that lies outside the representation: answer 416.</summary>
    Unsatisfiable,
}

/// <summary>
/// A single byte range from a <c>Range</c> header (RFC 9110 §14.1.2: <c>bytes=FIRST-[LAST]</c> or the suffix
/// <c>bytes=-N</c>). A server may ignore a Range header (§14.2), so anything else (several ranges, other units,
/// malformed values) reads as <see cref="HttpByteRangeKind.None"/>.
/// </summary>
internal readonly record struct HttpByteRange(HttpByteRangeKind Kind, long Start, long Length)
{
    // 19 digits always fit a long; longer values are refused before they are parsed.
    private const int MaxDigits = 18;

    // Headers longer than this are not a single byte range anyone sends.
    private const int MaxHeaderLength = 128;

    /// <summary>Reads <paramref name="header"/> against a representation of <paramref name="length"/> bytes.</summary>
    public static HttpByteRange Parse(ReadOnlySpan<char> header, long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        header = header.Trim();
        if (header.IsEmpty || header.Length > MaxHeaderLength || !header.StartsWith("bytes=", StringComparison.OrdinalIgnoreCase))
        {
            return default;
        }

        var spec = header["bytes=".Length..].Trim();
        if (spec.Contains(','))
        {
            return default;
        }

        int dash = spec.IndexOf('-');
        if (dash < 0)
        {
            return default;
        }

        var first = spec[..dash].Trim();
        var last = spec[(dash + 1)..].Trim();
        if (first.IsEmpty)
        {
            // Suffix range: the last N bytes; N = 0 selects nothing (§14.1.3).
            if (!TryParseNumber(last, out long suffix))
            {
                return default;
            }

            return suffix == 0 || length == 0
                ? new HttpByteRange(HttpByteRangeKind.Unsatisfiable, 0, 0)
                : new HttpByteRange(HttpByteRangeKind.Satisfiable, length - Math.Min(suffix, length), Math.Min(suffix, length));
        }

        if (!TryParseNumber(first, out long start))
        {
            return default;
        }

        long end = long.MaxValue;
        if (!last.IsEmpty && (!TryParseNumber(last, out end) || end < start))
        {
            return default;
        }

        if (start >= length)
        {
            return new HttpByteRange(HttpByteRangeKind.Unsatisfiable, 0, 0);
        }

        end = Math.Min(end, length - 1);
        return new HttpByteRange(HttpByteRangeKind.Satisfiable, start, end - start + 1);
    }

    private static bool TryParseNumber(ReadOnlySpan<char> digits, out long value)
    {
        value = 0;
        return digits.Length is > 0 and <= MaxDigits
            && long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }
}
