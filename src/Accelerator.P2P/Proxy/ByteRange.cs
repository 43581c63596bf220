using System.Globalization;

namespace Accelerator.P2P.Proxy;

/// <summary>
/// One byte range of an HTTP <c>Range</c> header (RFC 9110 §14.1.2): <c>bytes=FIRST-LAST</c>, <c>bytes=FIRST-</c> or
/// <c>bytes=-SUFFIX</c>. The proxy serves single ranges; a header with several ranges, another unit or bad syntax is
/// ignored (the whole blob is served, as §14.2 allows).
/// </summary>
internal readonly record struct ByteRange(long? First, long? Last)
{
    // Long enough for "bytes=" and two 19-digit numbers; a longer header is not a single byte range.
    private const int MaxHeaderLength = 64;

    /// <summary>Parses a <c>Range</c> header value holding exactly one byte range.</summary>
    public static bool TryParse(ReadOnlySpan<char> header, out ByteRange range)
    {
        range = default;
        header = header.Trim();
        if (header.Length > MaxHeaderLength || !header.StartsWith("bytes=", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var spec = header["bytes=".Length..].Trim();
        int dash = spec.IndexOf('-');
        if (dash < 0 || spec.Contains(','))
        {
            return false;
        }

        var first = spec[..dash].Trim();
        var last = spec[(dash + 1)..].Trim();
        if (first.IsEmpty)
        {
            // A suffix range: the last N bytes.
            if (!TryParseNumber(last, out long suffix))
            {
                return false;
            }

            range = new ByteRange(null, suffix);
            return true;
        }

        if (!TryParseNumber(first, out long start))
        {
            return false;
        }

        if (last.IsEmpty)
        {
            range = new ByteRange(start, null);
            return true;
        }

        if (!TryParseNumber(last, out long end) || end < start)
        {
            return false;
        }

        range = new ByteRange(start, end);
        return true;
    }

    /// <summary>
    /// Resolves the range against a blob of <paramref name="size"/> bytes: false when it is unsatisfiable (starts at or
    /// past the end, or is an empty suffix), else the offset and length to serve.
    /// </summary>
    public bool TryResolve(long size, out long offset, out long length)
    {
        (offset, length) = (0, 0);
        if (First is null)
        {
            long suffix = Last!.Value;
            if (suffix == 0 || size == 0)
            {
                return false;
            }

            length = Math.Min(suffix, size);
            offset = size - length;
            return true;
        }

        if (First.Value >= size)
        {
            return false;
        }

        offset = First.Value;
        long end = Last is { } last ? Math.Min(last, size - 1) : size - 1;
        length = end - offset + 1;
        return true;
    }

    private static bool TryParseNumber(ReadOnlySpan<char> text, out long value)
    {
        value = 0;
        return !text.IsEmpty && !text.ContainsAnyExceptInRange('0', '9')
            && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }
}
