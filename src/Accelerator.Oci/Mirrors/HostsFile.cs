using System.Text;
using Tomlyn;
using Tomlyn.Parsing;
using Tomlyn.Syntax;

namespace Accelerator.Oci.Mirrors;

/// <summary>
/// One containerd <c>hosts.toml</c> (see containerd's docs/hosts.md): <c>server</c> and root-level settings for the
/// origin, and <c>[host."URL"]</c> tables, in file order, with <c>capabilities</c> (pull, resolve, push; all when
/// absent), <c>skip_verify</c>, <c>override_path</c> and <c>[header]</c>. Settings this client does not implement
/// (<c>ca</c>, <c>client</c>, <c>dial_timeout</c>, <c>proxy</c>) and unknown keys are reported in
/// <see cref="Warnings"/> and otherwise ignored. A malformed file throws one <see cref="HostsFileException"/> naming the
/// file and line.
/// </summary>
public sealed class HostsFile
{
    /// <summary>The largest file read.</summary>
    public const int MaxFileBytes = 1 << 20;

    /// <summary>The most hosts one file may list.</summary>
    public const int MaxHosts = 256;

    private const int MaxHeaderValues = 64;

    private HostsFile(string path, MirrorEndpoint? server, IReadOnlyList<MirrorEndpoint> hosts, IReadOnlyList<string> warnings)
    {
        Path = path;
        Server = server;
        Hosts = hosts;
        Warnings = warnings;
    }

    /// <summary>The file's path (or the name it was parsed under).</summary>
    public string Path { get; }

    /// <summary>The origin endpoint (<c>server</c>, with the root-level settings), or null for the registry itself.</summary>
    public MirrorEndpoint? Server { get; }

    /// <summary>The <c>[host."URL"]</c> entries, in file order.</summary>
    public IReadOnlyList<MirrorEndpoint> Hosts { get; }

    /// <summary>Settings that were ignored, each with its line.</summary>
    public IReadOnlyList<string> Warnings { get; }

    /// <summary>The mirror set this file describes.</summary>
    public RegistryMirrors ToRegistryMirrors()
    {
        var mirrors = new RegistryMirrors { Server = Server, Source = Path };
        foreach (var host in Hosts)
        {
            mirrors.Mirrors.Add(host);
        }

        return mirrors;
    }

    /// <summary>
    /// Reads and parses <paramref name="path"/>. <paramref name="registry"/> is the namespace the file belongs to (its
    /// directory name, e.g. <c>docker.io</c>); root-level settings without a <c>server</c> then apply to it.
    /// </summary>
    public static HostsFile Load(string path, string? registry = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte[] bytes;
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            if (file.Length > MaxFileBytes)
            {
                throw new HostsFileException(path, 0, 0, $"the file is over {MaxFileBytes} bytes");
            }

            bytes = new byte[file.Length];
            file.ReadExactly(bytes);
        }
        catch (IOException ex)
        {
            throw new HostsFileException(path, 0, 0, $"cannot be read: {ex.Message}", ex);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new HostsFileException(path, 0, 0, $"cannot be read: {ex.Message}", ex);
        }

        string text;
        try
        {
            text = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException ex)
        {
            throw new HostsFileException(path, 0, 0, "the file is not valid UTF-8", ex);
        }

        return Parse(text, path, registry);
    }

    /// <summary>Parses hosts.toml text; <paramref name="path"/> names it in messages.</summary>
    public static HostsFile Parse(string text, string path, string? registry = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (text.Length > MaxFileBytes)
        {
            throw new HostsFileException(path, 0, 0, $"the file is over {MaxFileBytes} bytes");
        }

        DocumentSyntax document;
        try
        {
            document = SyntaxParser.Parse(text, path);
        }
        catch (TomlException ex)
        {
            throw new HostsFileException(path, ex.Line ?? 0, ex.Column ?? 0, FirstLine(ex.Message), ex);
        }

        if (document.HasErrors)
        {
            var error = document.Diagnostics.First(d => d.Kind == DiagnosticMessageKind.Error);
            throw new HostsFileException(path, error.Span.Start.Line + 1, error.Span.Start.Column + 1, error.Message);
        }

        return new Reader(path).Read(document, registry);
    }

    private static string FirstLine(string message)
    {
        int newline = message.IndexOfAny(['\r', '\n']);
        return newline < 0 ? message : message[..newline];
    }

    /// <summary>A key path (e.g. host, URL, capabilities) with its value and where it was written.</summary>
    private readonly record struct Entry(string[] Path, ValueSyntax? Value, int Line, int Column);

    /// <summary>The settings a table (root or host) may hold.</summary>
    private sealed class Settings(int line, int column)
    {
        public int Line { get; } = line;

        public int Column { get; } = column;

        public MirrorCapabilities? Capabilities { get; set; }

        public bool? SkipVerify { get; set; }

        public bool OverridePath { get; set; }

        public Dictionary<string, IReadOnlyList<string>> Headers { get; } = new(StringComparer.OrdinalIgnoreCase);

        public bool Any => Capabilities is not null || SkipVerify is not null || OverridePath || Headers.Count > 0;

        public MirrorEndpoint ToEndpoint(MirrorEndpoint endpoint)
        {
            endpoint.Capabilities = Capabilities ?? MirrorCapabilities.All;
            endpoint.SkipTlsVerify = SkipVerify ?? false;
            endpoint.OverridePath = OverridePath;
            foreach (var (name, values) in Headers)
            {
                endpoint.Headers[name] = values;
            }

            return endpoint;
        }
    }

    private sealed class Reader(string path)
    {
        private readonly List<Entry> _entries = [];
        private readonly List<string> _warnings = [];

        public HostsFile Read(DocumentSyntax document, string? registry)
        {
            foreach (var keyValue in document.KeyValues)
            {
                Flatten([], keyValue);
            }

            foreach (var table in document.Tables)
            {
                if (table is TableArraySyntax)
                {
                    throw Error(table, "arrays of tables ([[...]]) have no meaning in hosts.toml");
                }

                string[] prefix = KeyParts(table.Name!);
                // An empty [host."URL"] table still declares the host (with default settings).
                _entries.Add(new Entry(prefix, null, Line(table), Column(table)));
                foreach (var keyValue in table.Items)
                {
                    Flatten(prefix, keyValue);
                }
            }

            var root = new Settings(0, 0);
            var hosts = new List<(string Url, Settings Settings)>();
            (string Url, int Line, int Column)? server = null;
            foreach (var entry in _entries)
            {
                string head = entry.Path[0];
                if (head == "server")
                {
                    if (entry.Path.Length != 1 || entry.Value is not StringValueSyntax { Value: { } url })
                    {
                        throw Error(entry, "'server' must be a string URL");
                    }

                    server = (url, entry.Line, entry.Column);
                }
                else if (head == "host")
                {
                    if (entry.Path.Length == 1)
                    {
                        if (entry.Value is not null)
                        {
                            throw Error(entry, "'host' must be a table of [host.\"URL\"] tables");
                        }

                        continue;
                    }

                    string url = entry.Path[1];
                    int index = hosts.FindIndex(h => h.Url == url);
                    if (index < 0)
                    {
                        if (hosts.Count == MaxHosts)
                        {
                            throw Error(entry, $"more than {MaxHosts} hosts");
                        }

                        hosts.Add((url, new Settings(entry.Line, entry.Column)));
                        index = hosts.Count - 1;
                    }

                    if (entry.Path.Length == 2)
                    {
                        if (entry.Value is not null)
                        {
                            throw Error(entry, $"host.\"{url}\" must be a table");
                        }

                        continue;
                    }

                    Apply(hosts[index].Settings, entry, entry.Path.AsSpan(2), $"host.\"{url}\".");
                }
                else
                {
                    Apply(root, entry, entry.Path, "");
                }
            }

            var endpoints = new List<MirrorEndpoint>(hosts.Count);
            foreach (var (url, settings) in hosts)
            {
                endpoints.Add(settings.ToEndpoint(ParseUrl(url, settings.Line, settings.Column)));
            }

            MirrorEndpoint? origin = null;
            if (server is { } s)
            {
                origin = root.ToEndpoint(ParseUrl(s.Url, s.Line, s.Column));
            }
            else if (root.Any)
            {
                if (registry is null || registry == MirrorOptions.DefaultNamespace)
                {
                    _warnings.Add($"{path}: root-level settings without 'server' are ignored here (no registry to apply them to).");
                }
                else
                {
                    origin = root.ToEndpoint(ParseUrl("https://" + registry, 0, 0));
                }
            }

            return new HostsFile(path, origin, endpoints, _warnings);
        }

        private MirrorEndpoint ParseUrl(string url, int line, int column)
        {
            try
            {
                return MirrorEndpoint.Parse(url, MirrorCapabilities.All);
            }
            catch (FormatException ex)
            {
                throw new HostsFileException(path, line, column, ex.Message, ex);
            }
        }

        private void Apply(Settings settings, Entry entry, ReadOnlySpan<string> key, string prefix)
        {
            // A table header ([header], [host."URL".header]) declares a table; its keys come as their own entries.
            if (entry.Value is null)
            {
                if (key.Length == 1 && key[0] == "header")
                {
                    return;
                }

                if (key.Length is 1 or 2 && key[0] is "capabilities" or "skip_verify" or "override_path" or "server")
                {
                    throw Error(entry, $"'{prefix}{key[0]}' must be a value, not a table");
                }
            }

            switch (key[0])
            {
                case "capabilities" when key.Length == 1:
                    settings.Capabilities = Capabilities(entry, prefix);
                    break;
                case "skip_verify" when key.Length == 1:
                    settings.SkipVerify = Boolean(entry, prefix + "skip_verify");
                    break;
                case "override_path" when key.Length == 1:
                    settings.OverridePath = Boolean(entry, prefix + "override_path");
                    break;
                case "header" when key.Length == 1:
                    throw Error(entry, $"'{prefix}header' must be a table of header names");
                case "header" when key.Length == 2:
                    settings.Headers[key[1]] = HeaderValues(entry, prefix + "header." + key[1]);
                    break;
                case "ca" or "client" or "dial_timeout" or "proxy":
                    _warnings.Add($"{path}:{entry.Line}: '{prefix}{key[0]}' is not supported by this client and is ignored.");
                    break;
                default:
                    _warnings.Add($"{path}:{entry.Line}: unknown setting '{prefix}{string.Join('.', key.ToArray())}' is ignored.");
                    break;
            }
        }

        private MirrorCapabilities Capabilities(Entry entry, string prefix)
        {
            if (entry.Value is not ArraySyntax array)
            {
                throw Error(entry, $"'{prefix}capabilities' must be an array of strings");
            }

            var result = MirrorCapabilities.None;
            foreach (var item in array.Items)
            {
                if (item.Value is not StringValueSyntax { Value: { } name })
                {
                    throw Error(entry, $"'{prefix}capabilities' must be an array of strings");
                }

                result |= name.ToLowerInvariant() switch
                {
                    "pull" => MirrorCapabilities.Pull,
                    "resolve" => MirrorCapabilities.Resolve,
                    "push" => MirrorCapabilities.Push,
                    _ => throw Error(entry, $"unknown capability '{Shorten(name)}' (expected pull, resolve or push)"),
                };
            }

            // containerd: an empty list means every capability.
            return result == MirrorCapabilities.None ? MirrorCapabilities.All : result;
        }

        private bool Boolean(Entry entry, string name)
            => entry.Value is BooleanValueSyntax boolean ? boolean.Value : throw Error(entry, $"'{name}' must be true or false");

        private IReadOnlyList<string> HeaderValues(Entry entry, string name)
        {
            var values = new List<string>();
            switch (entry.Value)
            {
                case StringValueSyntax { Value: { } value }:
                    values.Add(value);
                    break;
                case ArraySyntax array:
                    foreach (var item in array.Items)
                    {
                        if (item.Value is not StringValueSyntax { Value: { } one } || values.Count == MaxHeaderValues)
                        {
                            throw Error(entry, $"'{name}' must be a string or an array of at most {MaxHeaderValues} strings");
                        }

                        values.Add(one);
                    }

                    break;
                default:
                    throw Error(entry, $"'{name}' must be a string or an array of strings");
            }

            string header = entry.Path[^1];
            if (header.Length == 0 || header.Any(c => c <= ' ' || c >= 0x7f || c == ':') || values.Any(v => v.Any(c => c is '\r' or '\n' or '\0')))
            {
                throw Error(entry, $"'{name}' is not a valid HTTP header");
            }

            return values;
        }

        private void Flatten(string[] prefix, KeyValueSyntax keyValue)
        {
            string[] key = [.. prefix, .. KeyParts(keyValue.Key!)];
            if (keyValue.Value is InlineTableSyntax inline)
            {
                _entries.Add(new Entry(key, null, Line(keyValue), Column(keyValue)));
                foreach (var item in inline.Items)
                {
                    if (item.KeyValue is { } nested)
                    {
                        Flatten(key, nested);
                    }
                }

                return;
            }

            _entries.Add(new Entry(key, keyValue.Value, Line(keyValue), Column(keyValue)));
        }

        private static string[] KeyParts(KeySyntax key)
        {
            var parts = new List<string> { KeyText(key.Key) };
            foreach (var dotted in key.DotKeys)
            {
                parts.Add(KeyText(dotted.Key));
            }

            return [.. parts];
        }

        private static string KeyText(BareKeyOrStringValueSyntax? key) => key switch
        {
            BareKeySyntax bare => bare.Key?.Text ?? "",
            StringValueSyntax quoted => quoted.Value ?? "",
            _ => "",
        };

        private static int Line(SyntaxNode node) => node.Span.Start.Line + 1;

        private static int Column(SyntaxNode node) => node.Span.Start.Column + 1;

        private HostsFileException Error(SyntaxNode node, string problem) => new(path, Line(node), Column(node), problem);

        private HostsFileException Error(Entry entry, string problem) => new(path, entry.Line, entry.Column, problem);

        private static string Shorten(string s) => s.Length > 40 ? s[..40] + "…" : s;
    }
}
