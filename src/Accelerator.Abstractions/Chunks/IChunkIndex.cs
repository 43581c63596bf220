namespace Accelerator;

/// <summary>The type of a file-system entry.</summary>
public enum FileEntryType : byte
{
    /// <summary>A regular file.</summary>
    Regular = 0,

    /// <summary>A directory.</summary>
    Directory = 1,

    /// <summary>A symbolic link.</summary>
    Symlink = 2,

    /// <summary>A character device.</summary>
    CharDevice = 3,

    /// <summary>A block device.</summary>
    BlockDevice = 4,

    /// <summary>A named pipe.</summary>
    Fifo = 5,

    /// <summary>A socket.</summary>
    Socket = 6,
}

/// <summary>
/// One entry of a flattened image tree, with every attribute a container runtime sees. Hardlinked files share an
/// <see cref="Inode"/>.
/// </summary>
public sealed record FileEntry
{
    /// <summary>The inode number; the root directory is 1.</summary>
    public required ulong Inode { get; init; }

    /// <summary>The path from the root, with a leading '/' (the root is "/").</summary>
    public required string Path { get; init; }

    /// <summary>The entry type.</summary>
    public required FileEntryType Type { get; init; }

    /// <summary>Permission bits including setuid (04000), setgid (02000) and sticky (01000); no type bits.</summary>
    public required uint Mode { get; init; }

    /// <summary>Owner user id.</summary>
    public uint Uid { get; init; }

    /// <summary>Owner group id.</summary>
    public uint Gid { get; init; }

    /// <summary>Size in bytes (regular files; symlinks: length of the target).</summary>
    public long Size { get; init; }

    /// <summary>Modification time, to the nanosecond.</summary>
    public UnixTime ModificationTime { get; init; }

    /// <summary>The target of a symbolic link.</summary>
    public string? LinkTarget { get; init; }

    /// <summary>Device major number (character and block devices).</summary>
    public uint DeviceMajor { get; init; }

    /// <summary>Device minor number (character and block devices).</summary>
    public uint DeviceMinor { get; init; }

    /// <summary>Number of hard links (paths) to this inode.</summary>
    public uint LinkCount { get; init; } = 1;

    /// <summary>Extended attributes, name to raw value.</summary>
    public IReadOnlyDictionary<string, byte[]>? ExtendedAttributes { get; init; }
}

/// <summary>
/// Where one piece of a file's data lives: a range of a compressed blob that decompresses to a range of the file.
/// </summary>
/// <param name="Blob">The blob holding the compressed chunk.</param>
/// <param name="CompressedOffset">Offset of the compressed chunk in the blob.</param>
/// <param name="CompressedSize">Size of the compressed chunk.</param>
/// <param name="FileOffset">Offset of the uncompressed chunk in the file.</param>
/// <param name="UncompressedSize">Size of the uncompressed chunk.</param>
/// <param name="ChunkDigest">Digest of the uncompressed chunk, checked before the bytes are used.</param>
public readonly record struct ChunkLocation(Digest Blob, long CompressedOffset, int CompressedSize, long FileOffset, int UncompressedSize, Digest ChunkDigest);

/// <summary>
/// An image's metadata: its file tree and, for each regular file, the chunks that hold its bytes. Lazy mounts serve
/// the tree from it and fetch chunks on demand.
/// </summary>
public interface IChunkIndex
{
    /// <summary>The root directory's inode number.</summary>
    ulong RootInode => 1;

    /// <summary>The number of inodes.</summary>
    long InodeCount { get; }

    /// <summary>The entry for an inode, or null when there is none.</summary>
    FileEntry? GetEntry(ulong inode);

    /// <summary>Looks up <paramref name="name"/> in the directory <paramref name="parentInode"/>.</summary>
    FileEntry? Lookup(ulong parentInode, string name);

    /// <summary>The entries of a directory, as (name, entry), in a stable order.</summary>
    IEnumerable<(string Name, FileEntry Entry)> ReadDirectory(ulong directoryInode);

    /// <summary>The chunks of a regular file, ordered by file offset.</summary>
    IReadOnlyList<ChunkLocation> GetChunks(ulong inode);
}
