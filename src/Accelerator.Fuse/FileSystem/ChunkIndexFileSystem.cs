using System.Text;
using Accelerator.Fuse.Protocol;
using Accelerator.Linux;

namespace Accelerator.Fuse.FileSystem;

/// <summary>
/// The read-only tree of an <see cref="IChunkIndex"/> as a FUSE file system: attributes, lookups, directories, symlinks
/// and xattrs from the index's <see cref="FileEntry"/>s; content from an <see cref="IFileContentReader"/> (for a lazy
/// mount, chunk reads through its cache). Node ids are the index's inodes, except that the index's root is node 1 (and
/// inode 1, if it is not the root, takes the root's number). Generation is always 1.
/// </summary>
public sealed class ChunkIndexFileSystem : IFuseFileSystem, IFuseExtendedAttributes, IFuseStatfs
{
    /// <summary>The block size statfs and stat report.</summary>
    public const int BlockSize = 4096;

    private readonly IChunkIndex _index;
    private readonly IFileContentReader _content;
    private readonly ulong _rootInode;
    private readonly Lazy<FuseFileSystemStatistics> _statistics;

    /// <summary>Serves <paramref name="index"/> with file content from <paramref name="content"/>.</summary>
    public ChunkIndexFileSystem(IChunkIndex index, IFileContentReader content)
    {
        ArgumentNullException.ThrowIfNull(index);
        ArgumentNullException.ThrowIfNull(content);
        _index = index;
        _content = content;
        _rootInode = index.RootInode;
        if (_rootInode == 0)
        {
            throw new ArgumentException("The index's root inode is 0, which FUSE cannot use.", nameof(index));
        }

        _statistics = new Lazy<FuseFileSystemStatistics>(ComputeStatistics, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>The index served.</summary>
    public IChunkIndex Index => _index;

    /// <summary>The attributes FUSE reports for <paramref name="entry"/> under node id <paramref name="nodeId"/>.</summary>
    public static FuseAttributes ToAttributes(FileEntry entry, ulong nodeId)
    {
        ArgumentNullException.ThrowIfNull(entry);
        long size = entry.Type == FileEntryType.Symlink ? Encoding.UTF8.GetByteCount(entry.LinkTarget ?? string.Empty) : Math.Max(0, entry.Size);
        bool device = entry.Type is FileEntryType.CharDevice or FileEntryType.BlockDevice;
        return new FuseAttributes
        {
            NodeId = nodeId,
            Inode = entry.Inode,
            Type = entry.Type switch
            {
                FileEntryType.Regular => FuseNodeType.RegularFile,
                FileEntryType.Directory => FuseNodeType.Directory,
                FileEntryType.Symlink => FuseNodeType.Symlink,
                FileEntryType.CharDevice => FuseNodeType.CharacterDevice,
                FileEntryType.BlockDevice => FuseNodeType.BlockDevice,
                FileEntryType.Fifo => FuseNodeType.Fifo,
                FileEntryType.Socket => FuseNodeType.Socket,
                _ => throw new FuseErrorException(Errno.EIO, $"Inode {entry.Inode} has an unknown type {entry.Type}."),
            },
            Permissions = entry.Mode & 0xFFF,
            LinkCount = entry.LinkCount,
            Uid = entry.Uid,
            Gid = entry.Gid,
            Size = size,
            Blocks = entry.Type == FileEntryType.Regular ? (size + 511) / 512 : 0,
            BlockSize = BlockSize,
            DeviceMajor = device ? entry.DeviceMajor : 0,
            DeviceMinor = device ? entry.DeviceMinor : 0,
            ModificationTime = entry.ModificationTime,
        };
    }

    /// <inheritdoc />
    public FuseAttributes? GetAttributes(ulong nodeId)
        => _index.GetEntry(Swap(nodeId)) is { } entry ? ToAttributes(entry, nodeId) : null;

    /// <inheritdoc />
    public FuseAttributes? Lookup(ulong parentNodeId, string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name is "." or ".." || name.Contains('/'))
        {
            return null;
        }

        return _index.Lookup(Swap(parentNodeId), name) is { } entry ? ToAttributes(entry, Swap(entry.Inode)) : null;
    }

    /// <inheritdoc />
    public byte[]? ReadLink(ulong nodeId)
        => _index.GetEntry(Swap(nodeId)) is { Type: FileEntryType.Symlink } entry ? Encoding.UTF8.GetBytes(entry.LinkTarget ?? string.Empty) : null;

    /// <inheritdoc />
    public IReadOnlyList<FuseDirectoryEntry>? ReadDirectory(ulong nodeId)
    {
        ulong inode = Swap(nodeId);
        if (_index.GetEntry(inode) is not { Type: FileEntryType.Directory } directory)
        {
            return null;
        }

        var parent = FindParent(directory) ?? directory;
        var entries = new List<FuseDirectoryEntry>
        {
            new(".", ToAttributes(directory, nodeId)),
            new("..", ToAttributes(parent, Swap(parent.Inode))),
        };
        foreach (var (name, entry) in _index.ReadDirectory(inode))
        {
            // A name the kernel cannot take (empty, too long, with '/' or NUL) is left out rather than breaking the listing.
            if (name.Length == 0 || name is "." or ".." || name.Contains('/') || name.Contains('\0') || Encoding.UTF8.GetByteCount(name) > FuseProtocol.MaxNameLength)
            {
                continue;
            }

            entries.Add(new FuseDirectoryEntry(name, ToAttributes(entry, Swap(entry.Inode))));
        }

        return entries;
    }

    /// <inheritdoc />
    public async ValueTask<int> ReadAsync(ulong nodeId, long offset, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        ulong inode = Swap(nodeId);
        var entry = _index.GetEntry(inode) ?? throw new FuseErrorException(Errno.ENOENT, $"No inode {inode}.");
        if (entry.Type != FileEntryType.Regular)
        {
            throw new FuseErrorException(entry.Type == FileEntryType.Directory ? Errno.EISDIR : Errno.EINVAL, $"Inode {inode} is not a regular file.");
        }

        if (offset < 0 || offset >= entry.Size)
        {
            return 0;
        }

        int wanted = (int)Math.Min(buffer.Length, entry.Size - offset);
        int total = 0;
        while (total < wanted)
        {
            int read = await _content.ReadAsync(inode, offset + total, buffer.Slice(total, wanted - total), cancellationToken).ConfigureAwait(false);
            if (read <= 0 || read > wanted - total)
            {
                // Short content would be served as zeros by the kernel: fail the read instead.
                throw new IOException($"The content of inode {inode} ended at {offset + total} of {entry.Size} bytes.");
            }

            total += read;
        }

        return total;
    }

    /// <inheritdoc />
    public IReadOnlyList<string> ListExtendedAttributes(ulong nodeId)
        => _index.GetEntry(Swap(nodeId))?.ExtendedAttributes is { Count: > 0 } xattrs ? xattrs.Keys.Order(StringComparer.Ordinal).ToList() : [];

    /// <inheritdoc />
    public byte[]? GetExtendedAttribute(ulong nodeId, string name)
        => _index.GetEntry(Swap(nodeId))?.ExtendedAttributes?.GetValueOrDefault(name);

    /// <inheritdoc />
    public FuseFileSystemStatistics StatFs() => _statistics.Value;

    // The kernel's root is node 1; the index's root may be another inode, in which case the two numbers trade places.
    private ulong Swap(ulong number) => number == FuseProtocol.RootNodeId ? _rootInode : number == _rootInode ? FuseProtocol.RootNodeId : number;

    private FileEntry? FindParent(FileEntry directory)
    {
        if (directory.Inode == _rootInode)
        {
            return directory;
        }

        string path = directory.Path.TrimEnd('/');
        int slash = path.LastIndexOf('/');
        var current = _index.GetEntry(_rootInode);
        if (slash <= 0)
        {
            return current;
        }

        foreach (string segment in path[1..slash].Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            current = current is null ? null : _index.Lookup(current.Inode, segment);
        }

        return current;
    }

    private FuseFileSystemStatistics ComputeStatistics()
    {
        // One walk of the tree: distinct inodes and the blocks of regular files.
        var seen = new HashSet<ulong>();
        ulong blocks = 0;
        var pending = new Stack<ulong>();
        pending.Push(_rootInode);
        seen.Add(_rootInode);
        while (pending.Count > 0)
        {
            foreach (var (_, entry) in _index.ReadDirectory(pending.Pop()))
            {
                if (!seen.Add(entry.Inode))
                {
                    continue;
                }

                if (entry.Type == FileEntryType.Directory)
                {
                    pending.Push(entry.Inode);
                }
                else if (entry.Type == FileEntryType.Regular)
                {
                    blocks += (ulong)((Math.Max(0, entry.Size) + BlockSize - 1) / BlockSize);
                }
            }
        }

        return new FuseFileSystemStatistics
        {
            BlockSize = BlockSize,
            Blocks = blocks,
            FreeBlocks = 0,
            Files = (ulong)Math.Max(_index.InodeCount, seen.Count),
            FreeFiles = 0,
            MaxNameLength = FuseProtocol.MaxNameLength,
        };
    }
}
