using System.Collections.Concurrent;
using System.Security.Cryptography;
using Accelerator.Linux;
using Microsoft.Win32.SafeHandles;

namespace Accelerator.Testing.Trees;

/// <summary>
/// An <see cref="IChunkIndex"/> of a real directory, walked once without following symlinks: inodes numbered from 1
/// (the root) in walk order, attributes from statx, xattrs from llistxattr/lgetxattr, hard links as one inode with a
/// link count of its paths in the tree, directories with 2 plus their subdirectories. Content is read from the real
/// files (<see cref="ReadAsync"/>), so a mount of it serves a real file system. Its chunks describe each file as an
/// uncompressed blob (the file itself, named by its sha256) cut into <see cref="ChunkSize"/> pieces, computed on demand.
/// </summary>
public sealed class DirectoryChunkIndex : IChunkIndex, IDisposable
{
    /// <summary>The size of the chunks <see cref="GetChunks"/> describes.</summary>
    public const int ChunkSize = 1024 * 1024;

    private readonly Dictionary<ulong, Node> _nodes;
    private readonly ConcurrentDictionary<ulong, SafeFileHandle> _handles = new();
    private readonly ConcurrentDictionary<ulong, IReadOnlyList<ChunkLocation>> _chunks = new();
    private int _disposed;

    private DirectoryChunkIndex(string root, Dictionary<ulong, Node> nodes)
    {
        Root = root;
        _nodes = nodes;
    }

    /// <summary>The directory indexed.</summary>
    public string Root { get; }

    /// <inheritdoc />
    public long InodeCount => _nodes.Count;

    /// <summary>Walks <paramref name="root"/> and indexes every entry under it.</summary>
    public static DirectoryChunkIndex Build(string root)
    {
        string full = Path.GetFullPath(root);
        var nodes = new Dictionary<ulong, Node>();
        var byIdentity = new Dictionary<(uint, uint, ulong), ulong>();
        var rootNode = ReadNode(full, "/", 1, out _);
        nodes[1] = rootNode;
        var pending = new Queue<Node>();
        pending.Enqueue(rootNode);
        ulong next = 2;
        while (pending.Count > 0)
        {
            var directory = pending.Dequeue();
            var names = Directory.EnumerateFileSystemEntries(directory.FullPath).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
            foreach (string? name in names)
            {
                string childPath = Path.Combine(directory.FullPath, name!);
                string treePath = directory.TreePath == "/" ? "/" + name : directory.TreePath + "/" + name;
                var child = ReadNode(childPath, treePath, next, out var identity);
                if (child.Type != FileEntryType.Directory && byIdentity.TryGetValue(identity, out ulong existing))
                {
                    nodes[existing].Paths++;
                    directory.Children!.Add((name!, existing));
                    continue;
                }

                nodes[next] = child;
                if (child.Type == FileEntryType.Directory)
                {
                    directory.Subdirectories++;
                    pending.Enqueue(child);
                }
                else
                {
                    byIdentity[identity] = next;
                }

                directory.Children!.Add((name!, next));
                next++;
            }
        }

        foreach (var node in nodes.Values)
        {
            node.Seal();
        }

        return new DirectoryChunkIndex(full, nodes);
    }

    /// <inheritdoc />
    public FileEntry? GetEntry(ulong inode) => _nodes.TryGetValue(inode, out var node) ? node.Entry : null;

    /// <inheritdoc />
    public FileEntry? Lookup(ulong parentInode, string name)
        => _nodes.TryGetValue(parentInode, out var parent) && parent.ByName is { } byName && byName.TryGetValue(name, out ulong inode)
            ? _nodes[inode].Entry
            : null;

    /// <inheritdoc />
    public IEnumerable<(string Name, FileEntry Entry)> ReadDirectory(ulong directoryInode)
        => _nodes.TryGetValue(directoryInode, out var directory) && directory.Children is { } children
            ? children.Select(c => (c.Name, _nodes[c.Inode].Entry))
            : [];

    /// <inheritdoc />
    public IReadOnlyList<ChunkLocation> GetChunks(ulong inode)
    {
        if (!_nodes.TryGetValue(inode, out var node) || node.Type != FileEntryType.Regular)
        {
            return [];
        }

        return _chunks.GetOrAdd(inode, _ => DescribeChunks(node.FullPath));
    }

    /// <summary>The real path of <paramref name="inode"/> (its first path, for a hard link), or null.</summary>
    public string? GetFullPath(ulong inode) => _nodes.TryGetValue(inode, out var node) ? node.FullPath : null;

    /// <summary>Reads the real file of <paramref name="inode"/> at <paramref name="offset"/> (pread; completes synchronously).</summary>
    /// <exception cref="FileNotFoundException">No such regular file in the index.</exception>
    public ValueTask<int> ReadAsync(ulong inode, long offset, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        if (!_nodes.TryGetValue(inode, out var node) || node.Type != FileEntryType.Regular)
        {
            return ValueTask.FromException<int>(new FileNotFoundException($"Inode {inode} is not a regular file of {Root}."));
        }

        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var handle = _handles.GetOrAdd(inode, static (_, path) => File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete), node.FullPath);
        return ValueTask.FromResult(RandomAccess.Read(handle, buffer.Span, offset));
    }

    /// <summary>Closes the files opened for reading.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        foreach (var handle in _handles.Values)
        {
            handle.Dispose();
        }

        _handles.Clear();
    }

    private static IReadOnlyList<ChunkLocation> DescribeChunks(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.SequentialScan);
        using var whole = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var pieces = new List<(long Offset, int Size, Digest Digest)>();
        byte[] buffer = new byte[ChunkSize];
        long offset = 0;
        int read;
        while ((read = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false)) > 0)
        {
            whole.AppendData(buffer, 0, read);
            pieces.Add((offset, read, Digest.Compute(buffer.AsSpan(0, read))));
            offset += read;
        }

        var blob = Digest.FromHash(Digest.Sha256, whole.GetHashAndReset());
        return pieces.Select(p => new ChunkLocation(blob, p.Offset, p.Size, p.Offset, p.Size, p.Digest)).ToList();
    }

    private static Node ReadNode(string fullPath, string treePath, ulong inode, out (uint, uint, ulong) identity)
    {
        var st = LibC.Lstat(fullPath);
        identity = (st.DevMajor, st.DevMinor, st.Inode);
        var type = (st.Mode & LibC.S_IFMT) switch
        {
            LibC.S_IFREG => FileEntryType.Regular,
            LibC.S_IFDIR => FileEntryType.Directory,
            LibC.S_IFLNK => FileEntryType.Symlink,
            LibC.S_IFCHR => FileEntryType.CharDevice,
            LibC.S_IFBLK => FileEntryType.BlockDevice,
            LibC.S_IFIFO => FileEntryType.Fifo,
            LibC.S_IFSOCK => FileEntryType.Socket,
            _ => throw new IOException($"'{fullPath}' has an unknown file type (mode 0x{st.Mode:x})."),
        };

        Dictionary<string, byte[]>? xattrs = null;
        foreach (string name in LibC.ListXattrs(fullPath))
        {
            if (LibC.GetXattr(fullPath, name) is { } value)
            {
                (xattrs ??= new Dictionary<string, byte[]>(StringComparer.Ordinal))[name] = value;
            }
        }

        string? target = type == FileEntryType.Symlink ? new FileInfo(fullPath).LinkTarget : null;
        bool device = type is FileEntryType.CharDevice or FileEntryType.BlockDevice;
        var entry = new FileEntry
        {
            Inode = inode,
            Path = treePath,
            Type = type,
            Mode = st.Mode & 0xFFFu,
            Uid = st.Uid,
            Gid = st.Gid,
            Size = type == FileEntryType.Symlink ? System.Text.Encoding.UTF8.GetByteCount(target ?? string.Empty) : st.Size,
            ModificationTime = new UnixTime(st.MtimeSeconds, (int)st.MtimeNanoseconds),
            LinkTarget = target,
            DeviceMajor = device ? st.RdevMajor : 0,
            DeviceMinor = device ? st.RdevMinor : 0,
            ExtendedAttributes = xattrs,
        };
        return new Node(entry, fullPath);
    }

    private sealed class Node(FileEntry entry, string fullPath)
    {
        public FileEntry Entry { get; private set; } = entry;

        public string FullPath { get; } = fullPath;

        public string TreePath => Entry.Path;

        public FileEntryType Type => Entry.Type;

        public int Paths { get; set; } = 1;

        public int Subdirectories { get; set; }

        public List<(string Name, ulong Inode)>? Children { get; } = entry.Type == FileEntryType.Directory ? [] : null;

        public Dictionary<string, ulong>? ByName { get; private set; }

        public void Seal()
        {
            Entry = Entry with { LinkCount = (uint)(Type == FileEntryType.Directory ? 2 + Subdirectories : Paths) };
            ByName = Children?.ToDictionary(c => c.Name, c => c.Inode, StringComparer.Ordinal);
        }
    }
}
