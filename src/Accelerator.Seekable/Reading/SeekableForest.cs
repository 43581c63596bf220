using System.Text;

namespace Accelerator.Seekable.Reading;

/// <summary>
/// All layers of an image under one root, served by one FUSE session: <c>/</c> holds the directories <c>0</c> …
/// <c>N-1</c> (bottom layer first), each a <see cref="SeekableLayerTree"/> in overlayfs lower form. The overlay over
/// them (lower directories <c>MOUNT/N-1</c> … <c>MOUNT/0</c>, topmost first) is the image's tree.
/// </summary>
/// <remarks>
/// Inode numbers are deterministic: the root is 1, the layer directories 2 … N+1, then each layer's nodes breadth
/// first, children in ordinal name order, layer by layer bottom first; a takeover that rebuilds the forest from the
/// same indexes gets the same numbers. Implicit directories (parents a tar does not list) take the owner, mode, time
/// and extended attributes of the nearest lower layer's directory at that path, else 0755 root:root at time 0 — what
/// applying the layers in order onto one directory leaves there. Content is not read through
/// <see cref="IChunkIndex.GetChunks"/> (it returns nothing) but through <see cref="SeekableContentReader"/>.
/// </remarks>
public sealed class SeekableForest : IChunkIndex
{
    private const ulong RootInode = 1;

    private readonly List<Node> _nodes = [];
    private readonly SeekableLayerTree[] _trees;

    /// <summary>Builds the trees of <paramref name="layers"/> (bottom layer first) and numbers their nodes.</summary>
    /// <exception cref="ArgumentException">No layers.</exception>
    /// <exception cref="InvalidDataException">A layer cannot be served (see <see cref="SeekableLayerTree.Build"/>); the message names it.</exception>
    public SeekableForest(IReadOnlyList<SeekableLayerIndex> layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        if (layers.Count == 0)
        {
            throw new ArgumentException("A forest needs at least one layer.", nameof(layers));
        }

        Layers = layers;
        _trees = new SeekableLayerTree[layers.Count];
        var root = new Node(-1, "/", null) { Entry = Directory(RootInode, "/", layers.Count) };
        _nodes.Add(root);
        root.Names = new string[layers.Count];
        root.Inodes = new ulong[layers.Count];
        var layerDirectories = Enumerable.Range(0, layers.Count).Select(LayerDirectoryName).Order(StringComparer.Ordinal).ToArray();
        for (int i = 0; i < layerDirectories.Length; i++)
        {
            root.Names[i] = layerDirectories[i];
            root.Inodes[i] = RootInode + 1 + (ulong)int.Parse(layerDirectories[i], System.Globalization.CultureInfo.InvariantCulture);
        }

        // Layer directories first (2 … N+1), so their numbers do not depend on the layers' sizes; then each layer's
        // nodes breadth first.
        var pending = new List<Queue<(SeekableTreeNode Tree, Node Forest)>>();
        var numbered = new List<Dictionary<SeekableTreeNode, ulong>>();
        for (int layer = 0; layer < layers.Count; layer++)
        {
            _trees[layer] = SeekableLayerTree.Build(layers[layer]);
            var map = new Dictionary<SeekableTreeNode, ulong>(ReferenceEqualityComparer.Instance);
            var queue = new Queue<(SeekableTreeNode, Node)>();
            Add(layer, _trees[layer].Root, "/", map, queue);
            numbered.Add(map);
            pending.Add(queue);
        }

        for (int layer = 0; layer < layers.Count; layer++)
        {
            var queue = pending[layer];
            while (queue.TryDequeue(out var item))
            {
                var (tree, forest) = item;
                var names = tree.Children!.Keys.Order(StringComparer.Ordinal).ToArray();
                forest.Names = names;
                forest.Inodes = new ulong[names.Length];
                for (int i = 0; i < names.Length; i++)
                {
                    string path = forest.LayerPath == "/" ? "/" + names[i] : forest.LayerPath + "/" + names[i];
                    forest.Inodes[i] = Add(layer, tree.Children[names[i]], path, numbered[layer], queue);
                }
            }
        }
    }

    /// <summary>The layers, bottom first; layer i is served under <c>/i</c>.</summary>
    public IReadOnlyList<SeekableLayerIndex> Layers { get; }

    /// <inheritdoc />
    public long InodeCount => _nodes.Count;

    /// <summary>The name of layer <paramref name="layer"/>'s directory under the root: <c>0</c>, <c>1</c>, …</summary>
    public static string LayerDirectoryName(int layer)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(layer);
        return layer.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>For a regular file: the layer and the entry holding its bytes; null for anything else.</summary>
    public (int Layer, SeekableEntry Entry)? FileOf(ulong inode)
        => Get(inode) is { Content: { } content } node ? (node.Layer, content) : null;

    /// <summary>
    /// The inode at <paramref name="path"/> (as in a prefetch list or trace: <c>/usr/bin/python3</c>) in layer
    /// <paramref name="layer"/>'s own tree, or null when that layer has nothing there.
    /// </summary>
    public ulong? FindPath(int layer, string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (layer < 0 || layer >= Layers.Count)
        {
            return null;
        }

        string[] components;
        try
        {
            components = SeekableLayerTree.SplitPath(path);
        }
        catch (InvalidDataException)
        {
            return null;
        }

        ulong inode = RootInode + 1 + (ulong)layer;
        foreach (string name in components)
        {
            if (Lookup(inode, name) is not { } entry)
            {
                return null;
            }

            inode = entry.Inode;
        }

        return inode;
    }

    /// <summary>
    /// The path of <paramref name="inode"/> within its layer (<c>/usr/bin/python3</c>; for hard links, the name the tar
    /// gave the file itself), or null for the root or an unknown inode.
    /// </summary>
    public string? PathOf(ulong inode) => Get(inode) is { Layer: >= 0 } node ? node.LayerPath : null;

    /// <summary>The layer of <paramref name="inode"/>, or -1 for the root or an unknown inode.</summary>
    public int LayerOf(ulong inode) => Get(inode)?.Layer ?? -1;

    /// <inheritdoc />
    public FileEntry? GetEntry(ulong inode) => Get(inode)?.Entry;

    /// <inheritdoc />
    public FileEntry? Lookup(ulong parentInode, string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (Get(parentInode) is not { Names: { } names } parent)
        {
            return null;
        }

        int index = Array.BinarySearch(names, name, StringComparer.Ordinal);
        return index >= 0 ? _nodes[(int)(parent.Inodes![index] - 1)].Entry : null;
    }

    /// <inheritdoc />
    public IEnumerable<(string Name, FileEntry Entry)> ReadDirectory(ulong directoryInode)
    {
        if (Get(directoryInode) is not { Names: { } names } directory)
        {
            yield break;
        }

        for (int i = 0; i < names.Length; i++)
        {
            yield return (names[i], _nodes[(int)(directory.Inodes![i] - 1)].Entry);
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<ChunkLocation> GetChunks(ulong inode) => [];

    internal SeekableLayerTree Tree(int layer) => _trees[layer];

    private Node? Get(ulong inode) => inode >= 1 && inode <= (ulong)_nodes.Count ? _nodes[(int)(inode - 1)] : null;

    private static FileEntry Directory(ulong inode, string path, int subdirectories) => new()
    {
        Inode = inode,
        Path = path,
        Type = FileEntryType.Directory,
        Mode = 0x1ED,
        LinkCount = (uint)(2 + subdirectories),
    };

    // Numbers a tree node the first time it is met (a hard link's later names get the same inode) and queues a directory.
    private ulong Add(int layer, SeekableTreeNode tree, string layerPath, Dictionary<SeekableTreeNode, ulong> numbered, Queue<(SeekableTreeNode, Node)> queue)
    {
        if (numbered.TryGetValue(tree, out ulong existing))
        {
            return existing;
        }

        // The constructor adds every layer's root before any other node: layer directories are 2 … N+1.
        ulong inode = (ulong)_nodes.Count + 1;

        if (tree.Type == FileEntryType.Directory && !tree.IsExplicit)
        {
            tree.SettleFrom(FindLowerDirectory(layer, layerPath));
        }

        if (tree.Content is { } content && tree.LinkCount > 1)
        {
            // A hard link's path is the name the tar gave the file itself, while that name still holds it.
            string own = "/" + string.Join('/', SeekableLayerTree.SplitPath(content.Header.Path));
            if (ReferenceEquals(_trees[layer].Find(SeekableLayerTree.SplitPath(own)), tree))
            {
                layerPath = own;
            }
        }

        var node = new Node(layer, layerPath, tree.Content);
        string layerDirectory = "/" + LayerDirectoryName(layer);
        node.Entry = ToEntry(inode, layerPath == "/" ? layerDirectory : layerDirectory + layerPath, tree);
        _nodes.Add(node);

        numbered[tree] = inode;
        if (tree.Children is not null)
        {
            queue.Enqueue((tree, node));
        }

        return inode;
    }

    // The directory at the path in the nearest lower layer that has anything there (a file there means none).
    private SeekableTreeNode? FindLowerDirectory(int layer, string layerPath)
    {
        string[] components = SeekableLayerTree.SplitPath(layerPath);
        for (int lower = layer - 1; lower >= 0; lower--)
        {
            if (_trees[lower].Find(components) is { } found)
            {
                return found.Type == FileEntryType.Directory && !found.IsWhiteout ? found : null;
            }
        }

        return null;
    }

    private static FileEntry ToEntry(ulong inode, string path, SeekableTreeNode tree) => new()
    {
        Inode = inode,
        Path = path,
        Type = tree.Type,
        Mode = tree.Mode,
        Uid = tree.Uid,
        Gid = tree.Gid,
        Size = tree.Type switch
        {
            FileEntryType.Regular => tree.Content!.Header.Size,
            FileEntryType.Symlink => Encoding.UTF8.GetByteCount(tree.LinkTarget!),
            _ => 0,
        },
        ModificationTime = tree.ModificationTime,
        LinkTarget = tree.LinkTarget,
        DeviceMajor = tree.DeviceMajor,
        DeviceMinor = tree.DeviceMinor,
        LinkCount = tree.Children is { } children
            ? (uint)(2 + children.Values.Count(c => c.Type == FileEntryType.Directory))
            : (uint)Math.Max(1, tree.LinkCount),
        ExtendedAttributes = tree.ServedAttributes(),
    };

    private sealed class Node(int layer, string layerPath, SeekableEntry? content)
    {
        public int Layer { get; } = layer;

        public string LayerPath { get; } = layerPath;

        public SeekableEntry? Content { get; } = content;

        public FileEntry Entry { get; set; } = null!;

        public string[]? Names { get; set; }

        public ulong[]? Inodes { get; set; }
    }
}
