namespace Accelerator.Replication;

/// <summary>
/// Which <c>repository:tag</c> pairs a replication covers: one or more globs, any of which may match.
/// </summary>
/// <remarks>
/// <para>Syntax of one glob, matched against the whole <c>repository:tag</c> (case-sensitive):</para>
/// <list type="bullet">
/// <item><c>REPO</c> or <c>REPO:TAG</c>; without <c>:TAG</c> every tag matches (<c>REPO</c> means <c>REPO:*</c>).</item>
/// <item><c>*</c> matches any run of characters within one path segment (never <c>/</c>, never <c>:</c>).</item>
/// <item><c>?</c> matches one character other than <c>/</c> and <c>:</c>.</item>
/// <item><c>**</c> matches any run of characters across segments (<c>/</c> included, <c>:</c> not); <c>**/</c>
/// also matches nothing, so <c>**/app</c> matches <c>app</c> and <c>team/app</c>.</item>
/// <item>Every other character stands for itself; allowed are those of repository names and tags
/// (<c>a-z 0-9 . _ - /</c> before the colon, <c>A-Z a-z 0-9 . _ -</c> after it).</item>
/// </list>
/// <para>Examples: <c>team/**</c> (every repository under <c>team</c>, every tag), <c>app:1.*</c>, <c>**:v?</c>,
/// <c>*/app:latest</c>.</para>
/// <para>Accelerated variants come along: a tag <c>T-accel</c> or <c>T-accel-…</c> (e.g. <c>1.0-accel-block</c>) is
/// covered when <c>repository:T</c> is (<see cref="Includes"/>), so <c>app:1.0</c> also replicates <c>app:1.0-accel</c>
/// and <c>app:1.0-accel-block</c>.</para>
/// </remarks>
public sealed class ReplicationFilter
{
    /// <summary>The suffix that marks an accelerated variant of a tag.</summary>
    public const string AccelSuffix = "-accel";

    private const int MaxPatternLength = 512;

    private readonly Glob[] _globs;

    private ReplicationFilter(Glob[] globs) => _globs = globs;

    /// <summary>Every repository and tag.</summary>
    public static ReplicationFilter All { get; } = new([Glob.Compile("**:*")]);

    /// <summary>The globs, as given.</summary>
    public IReadOnlyList<string> Patterns => Array.ConvertAll(_globs, g => g.Text);

    /// <summary>
    /// The repositories named by the globs when none has a wildcard in its repository part (so no catalog is needed);
    /// otherwise null.
    /// </summary>
    public IReadOnlyList<string>? LiteralRepositories
        => _globs.All(g => g.LiteralRepository is not null) ? _globs.Select(g => g.LiteralRepository!).Distinct(StringComparer.Ordinal).ToList() : null;

    /// <summary>Parses one glob (see the remarks for the syntax). Throws <see cref="FormatException"/> when invalid.</summary>
    public static ReplicationFilter Parse(string pattern) => Parse([pattern]);

    /// <summary>A filter matching when any of <paramref name="patterns"/> matches; no patterns means <see cref="All"/>.</summary>
    public static ReplicationFilter Parse(IEnumerable<string> patterns)
    {
        ArgumentNullException.ThrowIfNull(patterns);
        var globs = patterns.Select(Glob.Compile).ToArray();
        return globs.Length == 0 ? All : new ReplicationFilter(globs);
    }

    /// <summary>Whether some glob matches <c>repository:tag</c> exactly.</summary>
    public bool Matches(string repository, string tag)
    {
        ArgumentNullException.ThrowIfNull(repository);
        ArgumentNullException.ThrowIfNull(tag);
        foreach (var glob in _globs)
        {
            if (glob.Matches(repository, tag))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Whether the pair is in scope: it <see cref="Matches"/>, or <paramref name="tag"/> is an accelerated variant
    /// (<c>T-accel</c>, <c>T-accel-…</c>) of a tag <c>T</c> that matches.
    /// </summary>
    public bool Includes(string repository, string tag)
    {
        if (Matches(repository, tag))
        {
            return true;
        }

        for (int at = tag.IndexOf(AccelSuffix, StringComparison.Ordinal); at > 0; at = tag.IndexOf(AccelSuffix, at + 1, StringComparison.Ordinal))
        {
            int end = at + AccelSuffix.Length;
            if ((end == tag.Length || tag[end] == '-') && Matches(repository, tag[..at]))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether some glob's repository part matches <paramref name="repository"/> (some tag of it may be in scope).</summary>
    public bool MayInclude(string repository)
    {
        ArgumentNullException.ThrowIfNull(repository);
        foreach (var glob in _globs)
        {
            if (glob.MatchesRepository(repository))
            {
                return true;
            }
        }

        return false;
    }

    /// <inheritdoc />
    public override string ToString() => string.Join(", ", Patterns);

    private enum TokenKind : byte
    {
        Literal,
        AnyChar,
        Star,
        DoubleStar,
        DoubleStarSlash,
    }

    private readonly record struct Token(TokenKind Kind, char Char);

    /// <summary>One compiled glob: tokens for the repository part and for the tag part.</summary>
    private sealed class Glob
    {
        private readonly Token[] _repository;
        private readonly Token[] _tag;

        private Glob(string text, Token[] repository, Token[] tag, string? literalRepository)
        {
            Text = text;
            _repository = repository;
            _tag = tag;
            LiteralRepository = literalRepository;
        }

        public string Text { get; }

        public string? LiteralRepository { get; }

        public static Glob Compile(string text)
        {
            ArgumentNullException.ThrowIfNull(text);
            if (text.Length == 0 || text.Length > MaxPatternLength)
            {
                throw new FormatException($"A filter must be 1 to {MaxPatternLength} characters long.");
            }

            int colon = text.IndexOf(':');
            string repository = colon < 0 ? text : text[..colon];
            string tag = colon < 0 ? "*" : text[(colon + 1)..];
            if (repository.Length == 0 || tag.Length == 0 || tag.Contains(':'))
            {
                throw new FormatException($"Invalid filter '{text}': expected REPO or REPO:TAG, each non-empty.");
            }

            var repositoryTokens = Tokenize(text, repository, static c => c is >= 'a' and <= 'z' or >= '0' and <= '9' or '.' or '_' or '-' or '/');
            var tagTokens = Tokenize(text, tag, static c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');
            bool literal = repositoryTokens.All(t => t.Kind == TokenKind.Literal);
            return new Glob(text, repositoryTokens, tagTokens, literal ? repository : null);
        }

        public bool Matches(string repository, string tag) => Match(_repository, repository) && Match(_tag, tag);

        public bool MatchesRepository(string repository) => Match(_repository, repository);

        private static Token[] Tokenize(string text, string part, Func<char, bool> allowed)
        {
            var tokens = new List<Token>(part.Length);
            for (int i = 0; i < part.Length; i++)
            {
                char c = part[i];
                if (c == '*')
                {
                    if (i + 1 < part.Length && part[i + 1] == '*')
                    {
                        i++;
                        while (i + 1 < part.Length && part[i + 1] == '*')
                        {
                            i++;
                        }

                        if (i + 1 < part.Length && part[i + 1] == '/' && allowed('/'))
                        {
                            i++;
                            tokens.Add(new Token(TokenKind.DoubleStarSlash, '\0'));
                        }
                        else
                        {
                            tokens.Add(new Token(TokenKind.DoubleStar, '\0'));
                        }
                    }
                    else
                    {
                        tokens.Add(new Token(TokenKind.Star, '\0'));
                    }
                }
                else if (c == '?')
                {
                    tokens.Add(new Token(TokenKind.AnyChar, '\0'));
                }
                else if (allowed(c))
                {
                    tokens.Add(new Token(TokenKind.Literal, c));
                }
                else
                {
                    throw new FormatException($"Invalid filter '{text}': '{(char.IsControl(c) ? '?' : c)}' cannot appear in a repository name or tag.");
                }
            }

            return [.. tokens];
        }

        /// <summary>
        /// Whole-string match by dynamic programming over text positions (no backtracking, so no pattern can make it
        /// slow): after each token, <c>reach[j]</c> says whether the tokens so far can consume exactly <c>text[..j]</c>.
        /// </summary>
        private static bool Match(Token[] tokens, string text)
        {
            // Repository names are at most 255 characters and tags 128; anything longer cannot match a valid name.
            if (text.Length > 255)
            {
                return false;
            }

            Span<bool> reach = stackalloc bool[text.Length + 1];
            Span<bool> next = stackalloc bool[text.Length + 1];
            reach.Clear();
            reach[0] = true;
            foreach (var token in tokens)
            {
                next.Clear();
                bool any = false;
                for (int j = 0; j <= text.Length; j++)
                {
                    switch (token.Kind)
                    {
                        case TokenKind.Literal:
                            next[j] = j > 0 && reach[j - 1] && text[j - 1] == token.Char;
                            break;
                        case TokenKind.AnyChar:
                            next[j] = j > 0 && reach[j - 1] && text[j - 1] is not ('/' or ':');
                            break;
                        case TokenKind.Star:
                            next[j] = reach[j] || (j > 0 && next[j - 1] && text[j - 1] is not ('/' or ':'));
                            break;
                        case TokenKind.DoubleStar:
                            next[j] = reach[j] || (j > 0 && next[j - 1] && text[j - 1] != ':');
                            break;
                        case TokenKind.DoubleStarSlash:
                            // Nothing, or any run that ends with '/' (whole segments).
                            next[j] = reach[j] || (j > 0 && any && text[j - 1] == '/');
                            break;
                    }

                    if (j < text.Length && reach[j])
                    {
                        any = true;
                    }

                    if (token.Kind == TokenKind.DoubleStarSlash && j < text.Length && text[j] == ':')
                    {
                        // A ':' cannot be crossed; segments before it no longer count.
                        any = false;
                    }
                }

                var swap = reach;
                reach = next;
                next = swap;
            }

            return reach[text.Length];
        }
    }
}
