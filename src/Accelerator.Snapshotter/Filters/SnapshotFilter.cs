using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Accelerator.Snapshotter.Metadata;

namespace Accelerator.Snapshotter.Filters;

/// <summary>
/// containerd's filter syntax as the snapshots service's <c>List</c> takes it: <c>field[.field...] [op value]</c>
/// selectors joined by <c>,</c> (all must match); several filters in one request match when any does. Operators:
/// <c>==</c>, <c>!=</c>, <c>~=</c> (regular expression, matching anywhere); a field path alone tests presence. Fields:
/// <c>name</c>, <c>parent</c>, <c>kind</c> (<c>active</c>, <c>committed</c>, <c>view</c>), <c>labels.KEY</c>.
/// A field or value may be quoted with <c>"..."</c> (backslash escapes); a value also with <c>/.../</c>.
/// </summary>
public sealed class SnapshotFilter
{
    /// <summary>The longest filter text accepted.</summary>
    public const int MaxLength = 16 * 1024;

    private static readonly TimeSpan RegexTimeout = TimeSpan.FromMilliseconds(100);

    private readonly IReadOnlyList<IReadOnlyList<Selector>> _alternatives;

    private SnapshotFilter(IReadOnlyList<IReadOnlyList<Selector>> alternatives) => _alternatives = alternatives;

    /// <summary>A filter matching every snapshot.</summary>
    public static SnapshotFilter All { get; } = new([]);

    /// <summary>Parses <paramref name="filters"/> (any may match; none or only empty ones match everything).</summary>
    /// <exception cref="SnapshotException">InvalidArgument: a filter is malformed or its regular expression does not compile.</exception>
    public static SnapshotFilter Parse(IEnumerable<string> filters)
    {
        var alternatives = new List<IReadOnlyList<Selector>>();
        foreach (string filter in filters)
        {
            if (filter.Length == 0)
            {
                return All;
            }

            alternatives.Add(new Parser(filter).ParseSelectors());
        }

        return alternatives.Count == 0 ? All : new SnapshotFilter(alternatives);
    }

    /// <summary>Whether <paramref name="record"/> matches.</summary>
    public bool Matches(SnapshotRecord record)
        => _alternatives.Count == 0 || _alternatives.Any(selectors => selectors.All(s => s.Matches(record)));

    private static string? Field(SnapshotRecord record, string[] path) => path switch
    {
        ["name"] => record.Name,
        // Always present, empty for a snapshot without a parent, as in containerd's snapshots/storage adaptor: containerd's
        // metadata store finds a remote snapshot of a first layer with labels."containerd.io/snapshot.ref"==ID,parent=="".
        ["parent"] => record.Parent ?? "",
        ["kind"] => record.Kind switch
        {
            SnapshotKind.Active => "active",
            SnapshotKind.Committed => "committed",
            _ => "view",
        },
        ["labels", .. var rest] when rest.Length > 0 => record.Labels.TryGetValue(string.Join('.', rest), out string? value) ? value : null,
        _ => null,
    };

    private enum Operator
    {
        Present,
        Equal,
        NotEqual,
        Matches,
    }

    private sealed record Selector(string[] Path, Operator Operator, string Value, Regex? Pattern)
    {
        public bool Matches(SnapshotRecord record)
        {
            string? actual = Field(record, Path);
            return Operator switch
            {
                Operator.Present => actual is not null,
                Operator.Equal => actual is not null && string.Equals(actual, Value, StringComparison.Ordinal),
                Operator.NotEqual => !string.Equals(actual, Value, StringComparison.Ordinal),
                _ => actual is not null && MatchesPattern(actual),
            };
        }

        private bool MatchesPattern(string actual)
        {
            try
            {
                return Pattern!.IsMatch(actual);
            }
            catch (RegexMatchTimeoutException)
            {
                return false;
            }
        }
    }

    private ref struct Parser
    {
        private readonly string _text;
        private int _position;

        public Parser(string text)
        {
            if (text.Length > MaxLength)
            {
                throw SnapshotException.InvalidArgument($"filter is longer than {MaxLength} characters");
            }

            _text = text;
            _position = 0;
        }

        public List<Selector> ParseSelectors()
        {
            var selectors = new List<Selector>();
            while (true)
            {
                selectors.Add(ParseSelector());
                SkipSpace();
                if (_position == _text.Length)
                {
                    return selectors;
                }

                Expect(',');
            }
        }

        private Selector ParseSelector()
        {
            var path = new List<string> { ParseField() };
            SkipSpace();
            while (Peek() == '.')
            {
                _position++;
                path.Add(ParseField());
                SkipSpace();
            }

            Operator op;
            if (_position == _text.Length || Peek() == ',')
            {
                return new Selector([.. path], Operator.Present, "", null);
            }
            else if (TryConsume("=="))
            {
                op = Operator.Equal;
            }
            else if (TryConsume("!="))
            {
                op = Operator.NotEqual;
            }
            else if (TryConsume("~="))
            {
                op = Operator.Matches;
            }
            else
            {
                throw Error("expected an operator (==, !=, ~=), ',' or the end");
            }

            SkipSpace();
            string value = ParseValue();
            Regex? pattern = null;
            if (op == Operator.Matches)
            {
                try
                {
                    pattern = new Regex(value, RegexOptions.CultureInvariant, RegexTimeout);
                }
                catch (ArgumentException ex)
                {
                    throw SnapshotException.InvalidArgument($"filter '{SnapshotLabels.Shorten(_text)}': invalid regular expression '{SnapshotLabels.Shorten(value)}': {ex.Message}");
                }
            }

            return new Selector([.. path], op, value, pattern);
        }

        private string ParseField()
        {
            SkipSpace();
            if (Peek() == '"')
            {
                return ParseQuoted('"');
            }

            int start = _position;
            if (_position < _text.Length && char.IsAsciiLetter(_text[_position]))
            {
                _position++;
                while (_position < _text.Length && (char.IsAsciiLetterOrDigit(_text[_position]) || _text[_position] is '_' or '-'))
                {
                    _position++;
                }
            }

            return _position > start ? _text[start.._position] : throw Error("expected a field name or a quoted string");
        }

        private string ParseValue()
        {
            switch (Peek())
            {
                case '"':
                    return ParseQuoted('"');
                case '/':
                    return ParseQuoted('/');
            }

            int start = _position;
            while (_position < _text.Length && _text[_position] != ',' && !char.IsWhiteSpace(_text[_position]) && _text[_position] != '"')
            {
                _position++;
            }

            return _position > start ? _text[start.._position] : throw Error("expected a value");
        }

        private string ParseQuoted(char quote)
        {
            _position++;
            var value = new StringBuilder();
            while (_position < _text.Length)
            {
                char c = _text[_position++];
                if (c == quote)
                {
                    return value.ToString();
                }

                if (c != '\\')
                {
                    value.Append(c);
                    continue;
                }

                if (_position == _text.Length)
                {
                    break;
                }

                char escaped = _text[_position++];
                if (quote == '/')
                {
                    // In a /regex/ only the delimiter is unescaped; every other escape belongs to the expression.
                    value.Append(escaped == '/' ? "/" : "\\" + escaped);
                    continue;
                }

                value.Append(escaped switch
                {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    '\\' or '"' or '\'' => escaped,
                    _ => throw Error($"unknown escape '\\{escaped}'"),
                });
            }

            throw Error("unterminated quoted string");
        }

        private void SkipSpace()
        {
            while (_position < _text.Length && char.IsWhiteSpace(_text[_position]))
            {
                _position++;
            }
        }

        private readonly char Peek() => _position < _text.Length ? _text[_position] : '\0';

        private bool TryConsume(string token)
        {
            if (string.CompareOrdinal(_text, _position, token, 0, token.Length) == 0)
            {
                _position += token.Length;
                return true;
            }

            return false;
        }

        private void Expect(char c)
        {
            if (Peek() != c)
            {
                throw Error($"expected '{c}'");
            }

            _position++;
        }

        private readonly SnapshotException Error(string what)
            => SnapshotException.InvalidArgument(string.Create(CultureInfo.InvariantCulture, $"filter '{SnapshotLabels.Shorten(_text)}': {what} at position {_position}"));
    }
}
