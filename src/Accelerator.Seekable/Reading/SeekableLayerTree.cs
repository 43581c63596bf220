using System.Text;
using Accelerator.Oci.Layers;

namespace Accelerator.Seekable.Reading;

/// <summary>
/// One layer's entries as a tree in overlayfs lower-directory form: what <c>umoci unpack</c> or containerd would leave
/// in the layer's own directory, with deletions as overlayfs expects them. Whiteouts (<c>.wh.NAME</c>) become
/// character devices 0/0 named NAME; an opaque marker (<c>.wh..wh..opq</c>) sets <c>trusted.overlay.opaque=y</c> on its
/// directory; so the kernel's overlay of the layer directories is the image's tree.
/// </summary>
/// <remarks>
/// Rules: paths are normalised (leading <c>./</c> and <c>/</c> dropped, <c>.</c> components ignored, a trailing
/// <c>/</c> allowed); a path with a <c>..</c>, empty or NUL component, or longer than <see cref="MaxPathBytes"/>,
/// makes the layer unusable. A later entry for a path replaces the earlier (tar semantics; a directory replaced by a
/// non-directory loses its subtree, a directory entry over a directory only updates its attributes). A whiteout never
/// hides what the same layer put at its path. Other <c>.wh..wh.*</c> names (aufs bookkeeping) are dropped, and so are
/// the image's own <c>trusted.overlay.*</c> and <c>user.overlay.*</c> attributes: a layer must not forge overlay
/// metadata. Hard links share one node; one to a missing or non-regular target makes the layer unusable. Parent
/// directories the tar does not list are implicit: <see cref="SeekableForest"/> settles their attributes.
/// </remarks>
public sealed class SeekableLayerTree
{
    /// <summary>The longest entry path, in UTF-8 bytes: 4096 (<c>PATH_MAX</c>).</summary>
    public const int MaxPathBytes = 4096;

    /// <summary>The extended attribute that marks a directory opaque to the layers below (overlayfs).</summary>
    public const string OpaqueAttribute = "trusted.overlay.opaque";

    private SeekableLayerTree(SeekableLayerIndex index, SeekableTreeNode root, int nodes)
    {
        Index = index;
        Root = root;
        NodeCount = nodes;
    }

    /// <summary>The layer's index the tree was built from.</summary>
    public SeekableLayerIndex Index { get; }

    /// <summary>The number of distinct nodes (hard links counted once), the root included.</summary>
    public int NodeCount { get; }

    internal SeekableTreeNode Root { get; }

    /// <summary>Builds the tree of <paramref name="index"/>'s entries.</summary>
    /// <exception cref="InvalidDataException">The layer cannot be served: a path attack, a hard link to nothing or to a non-regular file, a file whose content no unit holds, a sparse file, an id out of range.</exception>
    public static SeekableLayerTree Build(SeekableLayerIndex index)
    {
        ArgumentNullException.ThrowIfNull(index);
        var builder = new Builder(index);
        foreach (var entry in index.Entries)
        {
            builder.Add(entry);
        }

        return new SeekableLayerTree(index, builder.Root, builder.CountNodes());
    }

    /// <summary>
    /// Splits an entry path into its components: leading <c>/</c> and <c>.</c> components dropped, a trailing <c>/</c>
    /// allowed; empty for the root.
    /// </summary>
    /// <exception cref="InvalidDataException">A <c>..</c>, empty or NUL component, or a path longer than <see cref="MaxPathBytes"/>.</exception>
    public static string[] SplitPath(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (Encoding.UTF8.GetByteCount(path) > MaxPathBytes)
        {
            throw new InvalidDataException($"The entry path '{path[..64]}…' is longer than {MaxPathBytes} bytes.");
        }

        string trimmed = path.TrimStart('/');
        if (trimmed.EndsWith('/'))
        {
            trimmed = trimmed[..^1];
        }

        if (trimmed.Length == 0)
        {
            return [];
        }

        var components = new List<string>();
        foreach (string part in trimmed.Split('/'))
        {
            if (part == ".")
            {
                continue;
            }

            if (part.Length == 0 || part == ".." || part.Contains('\0', StringComparison.Ordinal))
            {
                throw new InvalidDataException($"The entry path '{path.Replace("\0", "\\0", StringComparison.Ordinal)}' has an empty, '..' or NUL component.");
            }

            components.Add(part);
        }

        return [.. components];
    }

    /// <summary>The node at <paramref name="components"/>, or null.</summary>
    internal SeekableTreeNode? Find(IReadOnlyList<string> components)
    {
        var node = Root;
        foreach (string name in components)
        {
            if (node.Children?.GetValueOrDefault(name) is not { } child)
            {
                return null;
            }

            node = child;
        }

        return node;
    }

    private sealed class Builder(SeekableLayerIndex index)
    {
        public SeekableTreeNode Root { get; } = SeekableTreeNode.ImplicitDirectory();

        public void Add(SeekableEntry entry)
        {
            var header = entry.Header;
            string[] components = SplitPath(header.Path);
            if (components.Length == 0)
            {
                if (header.Kind != TarEntryKind.Directory)
                {
                    throw Invalid(header, "names the root but is not a directory");
                }

                Root.SetAttributes(header);
                return;
            }

            string name = components[^1];
            if (name.StartsWith(LayerWhiteouts.Prefix, StringComparison.Ordinal))
            {
                AddWhiteout(header, components);
                return;
            }

            var parent = Parent(header, components);
            var existing = parent.Children!.GetValueOrDefault(name);
            if (header.Kind == TarEntryKind.Directory && existing is { Type: FileEntryType.Directory })
            {
                existing.SetAttributes(header);
                return;
            }

            SeekableTreeNode node;
            if (header.Kind == TarEntryKind.HardLink)
            {
                string[] target = SplitPath(header.LinkTarget ?? string.Empty);
                node = (target.Length == 0 ? null : Find(target)) ?? throw Invalid(header, $"is a hard link to '{header.LinkTarget}', which the layer does not hold before it");
                if (node.Type != FileEntryType.Regular)
                {
                    throw Invalid(header, $"is a hard link to '{header.LinkTarget}', a {node.Type}, not a regular file");
                }

                if (ReferenceEquals(node, existing))
                {
                    return;
                }
            }
            else
            {
                node = SeekableTreeNode.FromHeader(entry, index);
                if (node.Type == FileEntryType.Directory && existing is { IsWhiteout: true })
                {
                    // A directory made after its whiteout in the same layer replaces the lower one entirely (the
                    // applier removes the lower directory, then creates this one): in overlay form, an opaque directory.
                    node.IsOpaque = true;
                }
            }

            Replace(parent, name, existing, node);
        }

        public int CountNodes()
        {
            var seen = new HashSet<SeekableTreeNode>(ReferenceEqualityComparer.Instance);
            var pending = new Stack<SeekableTreeNode>();
            pending.Push(Root);
            while (pending.Count > 0)
            {
                var node = pending.Pop();
                if (seen.Add(node) && node.Children is { } children)
                {
                    foreach (var child in children.Values)
                    {
                        pending.Push(child);
                    }
                }
            }

            return seen.Count;
        }

        private void AddWhiteout(TarEntryHeader header, string[] components)
        {
            string name = components[^1];
            if (name == LayerWhiteouts.OpaqueMarker)
            {
                Directory(header, components, components.Length - 1).IsOpaque = true;
                return;
            }

            if (name.StartsWith(LayerWhiteouts.MetadataPrefix, StringComparison.Ordinal))
            {
                // aufs bookkeeping (.wh..wh.plnk and the like): never part of the image's content.
                return;
            }

            string target = name[LayerWhiteouts.Prefix.Length..];
            if (target.Length == 0)
            {
                throw Invalid(header, "is a whiteout that names no file");
            }

            var parent = Parent(header, components);
            var existing = parent.Children!.GetValueOrDefault(target);
            if (existing is not null)
            {
                // A whiteout hides lower layers only; this layer's own entry of that name stays.
                return;
            }

            parent.Children!.Add(target, SeekableTreeNode.Whiteout(header));
        }

        private SeekableTreeNode Parent(TarEntryHeader header, string[] components) => Directory(header, components, components.Length - 1);

        // The directory at the first `count` components, made implicit where missing. A whiteout of this layer on the
        // way is replaced by an implicit opaque directory (the applier would create it after removing the lower one).
        private SeekableTreeNode Directory(TarEntryHeader header, string[] components, int count)
        {
            var node = Root;
            for (int i = 0; i < count; i++)
            {
                var child = node.Children!.GetValueOrDefault(components[i]);
                if (child is null || child.IsWhiteout)
                {
                    var made = SeekableTreeNode.ImplicitDirectory();
                    made.IsOpaque = child is not null;
                    node.Children![components[i]] = made;
                    child = made;
                }
                else if (child.Type != FileEntryType.Directory)
                {
                    throw Invalid(header, $"lies under '{string.Join('/', components[..(i + 1)])}', which is a {child.Type}, not a directory");
                }

                node = child;
            }

            return node;
        }

        private SeekableTreeNode? Find(string[] components)
        {
            var node = Root;
            foreach (string name in components)
            {
                if (node.Children?.GetValueOrDefault(name) is not { } child)
                {
                    return null;
                }

                node = child;
            }

            return node;
        }

        private static void Replace(SeekableTreeNode parent, string name, SeekableTreeNode? existing, SeekableTreeNode node)
        {
            if (existing is not null)
            {
                existing.LinkCount--;
            }

            node.LinkCount++;
            parent.Children![name] = node;
        }

        private InvalidDataException Invalid(TarEntryHeader header, string problem)
            => new($"Layer {index.Layer.Digest}: entry '{header.Path}' {problem}.");
    }
}
