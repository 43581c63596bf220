using System.Diagnostics.CodeAnalysis;

namespace Accelerator.Oci.Registry;

/// <summary>
/// Finds the <c>rel="next"</c> target of a <c>Link</c> header (RFC 8288), as registries send for paginated tag and
/// catalog listings: <c>&lt;/v2/repo/tags/list?n=2&amp;last=b&gt;; rel="next"</c>.
/// </summary>
internal static class LinkHeader
{
    /// <summary>The longest header considered.</summary>
    public const int MaxLength = 8 * 1024;

    /// <summary>
    /// Returns the URI reference of the first link whose <c>rel</c> contains <c>next</c>. Returns false when there is
    /// none; throws <see cref="FormatException"/> when the header is malformed or too long.
    /// </summary>
    public static bool TryGetNext(ReadOnlySpan<char> header, [NotNullWhen(true)] out string? target)
    {
        target = null;
        if (header.Length > MaxLength)
        {
            throw new FormatException($"Invalid Link header: longer than {MaxLength} characters.");
        }

        int pos = 0;
        while (true)
        {
            while (pos < header.Length && header[pos] is ' ' or '\t' or ',')
            {
                pos++;
            }

            if (pos >= header.Length)
            {
                return false;
            }

            if (header[pos] != '<')
            {
                throw new FormatException($"Invalid Link header: expected '<' at position {pos}.");
            }

            int close = header[pos..].IndexOf('>');
            if (close < 0)
            {
                throw new FormatException("Invalid Link header: unterminated '<'.");
            }

            ReadOnlySpan<char> uri = header.Slice(pos + 1, close - 1);
            pos += close + 1;
            bool next = false;
            // Parameters: *( OWS ";" OWS name [ "=" ( token / quoted-string ) ] ) up to the next "," outside quotes.
            while (true)
            {
                while (pos < header.Length && header[pos] is ' ' or '\t')
                {
                    pos++;
                }

                if (pos >= header.Length || header[pos] == ',')
                {
                    break;
                }

                if (header[pos] != ';')
                {
                    throw new FormatException($"Invalid Link header: expected ';' at position {pos}.");
                }

                pos++;
                while (pos < header.Length && header[pos] is ' ' or '\t')
                {
                    pos++;
                }

                int nameStart = pos;
                while (pos < header.Length && header[pos] is not ('=' or ';' or ',' or ' ' or '\t'))
                {
                    pos++;
                }

                ReadOnlySpan<char> name = header[nameStart..pos];
                while (pos < header.Length && header[pos] is ' ' or '\t')
                {
                    pos++;
                }

                ReadOnlySpan<char> value = default;
                if (pos < header.Length && header[pos] == '=')
                {
                    pos++;
                    while (pos < header.Length && header[pos] is ' ' or '\t')
                    {
                        pos++;
                    }

                    if (pos < header.Length && header[pos] == '"')
                    {
                        int end = header[(pos + 1)..].IndexOf('"');
                        if (end < 0)
                        {
                            throw new FormatException("Invalid Link header: unterminated quoted string.");
                        }

                        value = header.Slice(pos + 1, end);
                        pos += end + 2;
                    }
                    else
                    {
                        int start = pos;
                        while (pos < header.Length && header[pos] is not (';' or ',' or ' ' or '\t'))
                        {
                            pos++;
                        }

                        value = header[start..pos];
                    }
                }

                if (name.Equals("rel", StringComparison.OrdinalIgnoreCase))
                {
                    foreach (var range in value.Split(' '))
                    {
                        if (value[range].Equals("next", StringComparison.OrdinalIgnoreCase))
                        {
                            next = true;
                        }
                    }
                }
            }

            if (next)
            {
                if (uri.IsEmpty || uri.ContainsAny('\r', '\n'))
                {
                    throw new FormatException("Invalid Link header: empty or invalid next target.");
                }

                target = uri.ToString();
                return true;
            }
        }
    }
}
