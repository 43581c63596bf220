using System.Diagnostics.CodeAnalysis;
using System.Text.RegularExpressions;

namespace Accelerator;

/// <summary>Where an image reference points: a registry, or an OCI image layout on disk.</summary>
public enum ImageReferenceKind
{
    /// <summary><c>host[:port]/repository[:tag][@digest]</c>.</summary>
    Registry,

    /// <summary><c>oci:DIR[:TAG][@digest]</c>: an OCI image layout directory.</summary>
    Layout,
}

/// <summary>
/// A reference to an image: in a registry, normalized the way docker does (<c>nginx</c> →
/// <c>docker.io/library/nginx:latest</c>), or in an OCI image layout (<c>oci:DIR[:TAG]</c>).
/// </summary>
public sealed partial class ImageReference : IEquatable<ImageReference>
{
    /// <summary>The registry host docker uses when a reference names none.</summary>
    public const string DockerHub = "docker.io";

    /// <summary>The tag used when a reference names neither tag nor digest.</summary>
    public const string DefaultTag = "latest";

    private const string LayoutPrefix = "oci:";

    private ImageReference(ImageReferenceKind kind, string registry, string repository, string? tag, Digest? digest, string? layoutPath)
    {
        Kind = kind;
        Registry = registry;
        Repository = repository;
        Tag = tag;
        Digest = digest;
        LayoutPath = layoutPath;
    }

    /// <summary>Registry or layout.</summary>
    public ImageReferenceKind Kind { get; }

    /// <summary>The registry host and optional port (<c>docker.io</c>, <c>localhost:5000</c>); empty for layouts.</summary>
    public string Registry { get; }

    /// <summary>The repository path (<c>library/nginx</c>); for layouts, empty.</summary>
    public string Repository { get; }

    /// <summary>The tag, if any. A registry reference with neither tag nor digest gets <see cref="DefaultTag"/>.</summary>
    public string? Tag { get; }

    /// <summary>The digest, if the reference pins one.</summary>
    public Digest? Digest { get; }

    /// <summary>The layout directory, for <see cref="ImageReferenceKind.Layout"/> references.</summary>
    public string? LayoutPath { get; }

    /// <summary>The digest if pinned, else the tag: what to ask a registry's manifest endpoint for.</summary>
    public string Reference => Digest?.ToString() ?? Tag ?? DefaultTag;

    /// <summary>Registry and repository, <c>docker.io/library/nginx</c>.</summary>
    public string Name => Kind == ImageReferenceKind.Layout ? LayoutPrefix + LayoutPath : $"{Registry}/{Repository}";

    /// <summary>Parses a reference, throwing <see cref="FormatException"/> with the reason when it is invalid.</summary>
    public static ImageReference Parse(string value)
        => TryParse(value, out var reference, out string? error) ? reference : throw new FormatException(error);

    /// <summary>Tries to parse a reference.</summary>
    public static bool TryParse(string? value, [NotNullWhen(true)] out ImageReference? reference)
        => TryParse(value, out reference, out _);

    /// <summary>Tries to parse a reference, giving the reason on failure.</summary>
    public static bool TryParse(string? value, [NotNullWhen(true)] out ImageReference? reference, [NotNullWhen(false)] out string? error)
    {
        reference = null;
        if (string.IsNullOrWhiteSpace(value))
        {
            error = "An image reference is empty.";
            return false;
        }

        if (value.Length > 4096 || value.Any(c => char.IsControl(c)))
        {
            error = $"Invalid image reference '{Show(value)}': too long or contains control characters.";
            return false;
        }

        return value.StartsWith(LayoutPrefix, StringComparison.Ordinal)
            ? TryParseLayout(value, out reference, out error)
            : TryParseRegistry(value, out reference, out error);
    }

    private static bool TryParseLayout(string value, [NotNullWhen(true)] out ImageReference? reference, [NotNullWhen(false)] out string? error)
    {
        reference = null;
        string rest = value[LayoutPrefix.Length..];
        Digest? digest = null;
        int at = rest.LastIndexOf('@');
        if (at >= 0 && at > rest.LastIndexOf('/'))
        {
            if (!Accelerator.Digest.TryParse(rest[(at + 1)..], out var d))
            {
                error = $"Invalid image reference '{Show(value)}': bad digest after '@'.";
                return false;
            }

            digest = d;
            rest = rest[..at];
        }

        string? tag = null;
        int colon = rest.LastIndexOf(':');
        if (colon >= 0 && colon > rest.LastIndexOf('/'))
        {
            tag = rest[(colon + 1)..];
            rest = rest[..colon];
            if (!TagPattern().IsMatch(tag))
            {
                error = $"Invalid image reference '{Show(value)}': bad tag '{Show(tag)}'.";
                return false;
            }
        }

        if (rest.Length == 0)
        {
            error = $"Invalid image reference '{Show(value)}': oci: needs a directory.";
            return false;
        }

        error = null;
        reference = new ImageReference(ImageReferenceKind.Layout, string.Empty, string.Empty, tag, digest, rest);
        return true;
    }

    private static bool TryParseRegistry(string value, [NotNullWhen(true)] out ImageReference? reference, [NotNullWhen(false)] out string? error)
    {
        reference = null;
        string rest = value;
        Digest? digest = null;
        int at = rest.IndexOf('@');
        if (at >= 0)
        {
            if (!Accelerator.Digest.TryParse(rest[(at + 1)..], out var d))
            {
                error = $"Invalid image reference '{Show(value)}': bad digest after '@' (expected sha256:<64 lowercase hex>).";
                return false;
            }

            digest = d;
            rest = rest[..at];
        }

        string? tag = null;
        int lastSlash = rest.LastIndexOf('/');
        int colon = rest.LastIndexOf(':');
        if (colon > lastSlash)
        {
            tag = rest[(colon + 1)..];
            rest = rest[..colon];
            if (!TagPattern().IsMatch(tag))
            {
                error = $"Invalid image reference '{Show(value)}': bad tag '{Show(tag)}'.";
                return false;
            }
        }

        string registry;
        string repository;
        int slash = rest.IndexOf('/');
        string first = slash < 0 ? rest : rest[..slash];
        if (slash >= 0 && (first.Contains('.') || first.Contains(':') || first == "localhost" || first.Any(char.IsAsciiLetterUpper)))
        {
            registry = first;
            repository = rest[(slash + 1)..];
            if (!HostPattern().IsMatch(registry))
            {
                error = $"Invalid image reference '{Show(value)}': bad registry host '{Show(registry)}'.";
                return false;
            }
        }
        else
        {
            registry = DockerHub;
            repository = rest;
        }

        if (registry == "index.docker.io" || registry == "registry-1.docker.io")
        {
            registry = DockerHub;
        }

        if (registry == DockerHub && !repository.Contains('/'))
        {
            repository = "library/" + repository;
        }

        if (repository.Length == 0 || repository.Length > 255 || !RepositoryPattern().IsMatch(repository))
        {
            error = $"Invalid image reference '{Show(value)}': repository '{Show(repository)}' must be lowercase path components of [a-z0-9] joined by '.', '_', '__' or '-'.";
            return false;
        }

        if (tag is null && digest is null)
        {
            tag = DefaultTag;
        }

        error = null;
        reference = new ImageReference(ImageReferenceKind.Registry, registry, repository, tag, digest, null);
        return true;
    }

    /// <summary>Creates a registry reference from parts (validated as <see cref="Parse"/> would).</summary>
    public static ImageReference Create(string registry, string repository, string? tag = null, Digest? digest = null)
    {
        string text = $"{registry}/{repository}{(tag is null ? "" : ":" + tag)}{(digest is { } d ? "@" + d : "")}";
        return Parse(text);
    }

    /// <summary>This reference with a different tag (and no digest).</summary>
    public ImageReference WithTag(string tag)
    {
        if (!TagPattern().IsMatch(tag))
        {
            throw new FormatException($"Invalid tag '{Show(tag)}'.");
        }

        return new ImageReference(Kind, Registry, Repository, tag, null, LayoutPath);
    }

    /// <summary>This reference pinned to <paramref name="digest"/> (the tag is kept for display).</summary>
    public ImageReference WithDigest(Digest digest) => new(Kind, Registry, Repository, Tag, digest, LayoutPath);

    /// <summary>The fully qualified form: <c>docker.io/library/nginx:latest</c>, <c>oci:/dir:tag</c>.</summary>
    public override string ToString()
        => Name + (Tag is null ? "" : ":" + Tag) + (Digest is { } d ? "@" + d : "");

    /// <inheritdoc />
    public bool Equals(ImageReference? other) => other is not null && ToString() == other.ToString();

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as ImageReference);

    /// <inheritdoc />
    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(ToString());

    private static string Show(string s) => s.Length > 80 ? s[..80] + "…" : s;

    // distribution/reference grammar: tag := [\w][\w.-]{0,127}
    [GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\z")]
    private static partial Regex TagPattern();

    // path-component := [a-z0-9]+ (separator [a-z0-9]+)*, separator := [_.] | __ | [-]+
    [GeneratedRegex(@"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*\z")]
    private static partial Regex RepositoryPattern();

    // domain := component (. component)* [:port], or a bracketed IPv6 address with optional port.
    [GeneratedRegex(@"^(?:(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])(?:\.(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]))*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?\z")]
    private static partial Regex HostPattern();
}
