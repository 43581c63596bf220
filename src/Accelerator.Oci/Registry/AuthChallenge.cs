using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace Accelerator.Oci.Registry;

/// <summary>
/// One challenge of a <c>WWW-Authenticate</c> header (RFC 9110 §11.6.1): a scheme (<c>Bearer</c>, <c>Basic</c>) and its
/// parameters (<c>realm</c>, <c>service</c>, <c>scope</c>, <c>error</c>…) or a token68.
/// </summary>
public sealed class AuthChallenge
{
    /// <summary>The longest header accepted.</summary>
    public const int MaxHeaderLength = 16 * 1024;

    /// <summary>The most challenges in one header.</summary>
    public const int MaxChallenges = 16;

    /// <summary>The most parameters of one challenge.</summary>
    public const int MaxParameters = 32;

    private AuthChallenge(string scheme, IReadOnlyDictionary<string, string> parameters, string? token68)
    {
        Scheme = scheme;
        Parameters = parameters;
        Token68 = token68;
    }

    /// <summary>The scheme, as sent (compare case-insensitively).</summary>
    public string Scheme { get; }

    /// <summary>The parameters; names compare case-insensitively; values are unquoted.</summary>
    public IReadOnlyDictionary<string, string> Parameters { get; }

    /// <summary>The token68 form of the credentials part, when the challenge uses it instead of parameters.</summary>
    public string? Token68 { get; }

    /// <summary>Whether this is a Bearer challenge.</summary>
    public bool IsBearer => Scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase);

    /// <summary>Whether this is a Basic challenge.</summary>
    public bool IsBasic => Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase);

    /// <summary>The <c>realm</c> parameter (for Bearer: the token server URL).</summary>
    public string? Realm => Get("realm");

    /// <summary>The <c>service</c> parameter.</summary>
    public string? Service => Get("service");

    /// <summary>The <c>scope</c> parameter (space-separated scopes).</summary>
    public string? Scope => Get("scope");

    /// <summary>The <c>error</c> parameter (<c>invalid_token</c>, <c>insufficient_scope</c>).</summary>
    public string? Error => Get("error");

    private string? Get(string name) => Parameters.TryGetValue(name, out var value) ? value : null;

    /// <summary>Parses a header value into its challenges; throws <see cref="FormatException"/> when it is malformed or too large.</summary>
    public static IReadOnlyList<AuthChallenge> Parse(ReadOnlySpan<char> header)
        => TryParse(header, out var challenges, out string? error) ? challenges : throw new FormatException($"Invalid WWW-Authenticate header: {error}.");

    /// <summary>Tries to parse a header value into its challenges.</summary>
    public static bool TryParse(ReadOnlySpan<char> header, [NotNullWhen(true)] out IReadOnlyList<AuthChallenge>? challenges)
        => TryParse(header, out challenges, out _);

    private static bool TryParse(ReadOnlySpan<char> header, [NotNullWhen(true)] out IReadOnlyList<AuthChallenge>? challenges, [NotNullWhen(false)] out string? error)
    {
        challenges = null;
        if (header.Length > MaxHeaderLength)
        {
            error = $"longer than {MaxHeaderLength} characters";
            return false;
        }

        var list = new List<AuthChallenge>();
        int pos = 0;
        while (true)
        {
            SkipListSeparators(header, ref pos);
            if (pos >= header.Length)
            {
                break;
            }

            if (list.Count == MaxChallenges)
            {
                error = $"more than {MaxChallenges} challenges";
                return false;
            }

            ReadOnlySpan<char> scheme = ReadToken(header, ref pos);
            if (scheme.IsEmpty)
            {
                error = $"expected an auth scheme at position {pos}";
                return false;
            }

            var parameters = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            string? token68 = null;
            int afterScheme = pos;
            SkipSpaces(header, ref pos);
            if (pos < header.Length && pos > afterScheme && header[pos] != ',')
            {
                // Either a token68 or the first auth-param: an auth-param is a token followed by BWS "=".
                if (IsParameterStart(header, pos))
                {
                    if (!ReadParameters(header, ref pos, parameters, out error))
                    {
                        return false;
                    }
                }
                else
                {
                    int start = pos;
                    while (pos < header.Length && IsToken68Char(header[pos]))
                    {
                        pos++;
                    }

                    while (pos < header.Length && header[pos] == '=')
                    {
                        pos++;
                    }

                    if (pos == start)
                    {
                        error = $"unexpected character '{Show(header[pos])}' at position {pos}";
                        return false;
                    }

                    token68 = header[start..pos].ToString();
                    SkipSpaces(header, ref pos);
                    if (pos < header.Length && header[pos] != ',')
                    {
                        error = $"unexpected character '{Show(header[pos])}' after token68 at position {pos}";
                        return false;
                    }
                }
            }
            else if (pos < header.Length && header[pos] != ',')
            {
                error = $"unexpected character '{Show(header[pos])}' at position {pos}";
                return false;
            }

            list.Add(new AuthChallenge(scheme.ToString(), parameters, token68));
        }

        if (list.Count == 0)
        {
            error = "no challenge";
            return false;
        }

        challenges = list;
        error = null;
        return true;
    }

    // Reads `name BWS "=" BWS (token / quoted-string)` items separated by commas, stopping before a comma that starts
    // the next challenge (a token not followed by "=").
    private static bool ReadParameters(ReadOnlySpan<char> header, ref int pos, Dictionary<string, string> parameters, [NotNullWhen(false)] out string? error)
    {
        while (true)
        {
            ReadOnlySpan<char> name = ReadToken(header, ref pos);
            SkipSpaces(header, ref pos);
            if (name.IsEmpty || pos >= header.Length || header[pos] != '=')
            {
                error = $"expected name=value at position {pos}";
                return false;
            }

            pos++;
            SkipSpaces(header, ref pos);
            string value;
            if (pos < header.Length && header[pos] == '"')
            {
                if (!ReadQuoted(header, ref pos, out value!, out error))
                {
                    return false;
                }
            }
            else
            {
                ReadOnlySpan<char> token = ReadToken(header, ref pos);
                if (token.IsEmpty)
                {
                    error = $"expected a value at position {pos}";
                    return false;
                }

                value = token.ToString();
            }

            if (parameters.Count == MaxParameters)
            {
                error = $"more than {MaxParameters} parameters";
                return false;
            }

            // RFC 9110: each parameter name only once per challenge.
            if (!parameters.TryAdd(name.ToString(), value))
            {
                error = $"parameter '{name}' repeated";
                return false;
            }

            SkipSpaces(header, ref pos);
            if (pos >= header.Length)
            {
                error = null;
                return true;
            }

            if (header[pos] != ',')
            {
                error = $"unexpected character '{Show(header[pos])}' at position {pos}";
                return false;
            }

            int save = pos;
            SkipListSeparators(header, ref pos);
            if (pos >= header.Length || !IsParameterStart(header, pos))
            {
                pos = save;
                error = null;
                return true;
            }
        }
    }

    private static bool ReadQuoted(ReadOnlySpan<char> header, ref int pos, [NotNullWhen(true)] out string? value, [NotNullWhen(false)] out string? error)
    {
        var text = new StringBuilder();
        pos++;
        while (pos < header.Length)
        {
            char c = header[pos++];
            if (c == '"')
            {
                value = text.ToString();
                error = null;
                return true;
            }

            if (c == '\\')
            {
                if (pos >= header.Length)
                {
                    break;
                }

                c = header[pos++];
            }

            if (c is < ' ' and not '\t' or '\x7f')
            {
                value = null;
                error = "control character in a quoted string";
                return false;
            }

            text.Append(c);
        }

        value = null;
        error = "unterminated quoted string";
        return false;
    }

    private static bool IsParameterStart(ReadOnlySpan<char> header, int pos)
    {
        int p = pos;
        if (ReadToken(header, ref p).IsEmpty)
        {
            return false;
        }

        SkipSpaces(header, ref p);
        // "=" starts a value; "==" or "=" at the end or before a comma is the padding of a token68.
        return p < header.Length && header[p] == '=' && (p + 1 >= header.Length || header[p + 1] != '=') && !EndsToken68(header, p);
    }

    private static bool EndsToken68(ReadOnlySpan<char> header, int equalsPos)
    {
        int p = equalsPos;
        while (p < header.Length && header[p] == '=')
        {
            p++;
        }

        SkipSpaces(header, ref p);
        return p >= header.Length || header[p] == ',';
    }

    private static ReadOnlySpan<char> ReadToken(ReadOnlySpan<char> header, ref int pos)
    {
        int start = pos;
        while (pos < header.Length && IsTokenChar(header[pos]))
        {
            pos++;
        }

        return header[start..pos];
    }

    private static void SkipSpaces(ReadOnlySpan<char> header, ref int pos)
    {
        while (pos < header.Length && header[pos] is ' ' or '\t')
        {
            pos++;
        }
    }

    private static void SkipListSeparators(ReadOnlySpan<char> header, ref int pos)
    {
        while (pos < header.Length && header[pos] is ' ' or '\t' or ',')
        {
            pos++;
        }
    }

    // RFC 9110 §5.6.2 tchar.
    private static bool IsTokenChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '!' or '#' or '$' or '%' or '&' or '\'' or '*' or '+' or '-' or '.' or '^' or '_' or '`' or '|' or '~';

    // RFC 9110 §11.2 token68 (without the trailing "=" padding).
    private static bool IsToken68Char(char c) => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' or '~' or '+' or '/';

    private static string Show(char c) => char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString();

    /// <inheritdoc />
    public override string ToString()
        => Token68 is not null ? $"{Scheme} {Token68}" : $"{Scheme} {string.Join(',', Parameters.Select(p => $"{p.Key}=\"{p.Value.Replace("\\", "\\\\").Replace("\"", "\\\"")}\""))}";
}
