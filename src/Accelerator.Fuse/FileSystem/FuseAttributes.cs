namespace Accelerator.Fuse.FileSystem;

/// <summary>The type of a node (the <c>S_IFMT</c> bits of st_mode, linux/stat.h).</summary>
public enum FuseNodeType : uint
{
    /// <summary>A named pipe (S_IFIFO).</summary>
    Fifo = 0x1000,

    /// <summary>A character device (S_IFCHR).</summary>
    CharacterDevice = 0x2000,

    /// <summary>A directory (S_IFDIR).</summary>
    Directory = 0x4000,

    /// <summary>A block device (S_IFBLK).</summary>
    BlockDevice = 0x6000,

    /// <summary>A regular file (S_IFREG).</summary>
    RegularFile = 0x8000,

    /// <summary>A symbolic link (S_IFLNK).</summary>
    Symlink = 0xA000,

    /// <summary>A socket (S_IFSOCK).</summary>
    Socket = 0xC000,
}

/// <summary>
/// The attributes of one node, as <c>stat</c> reports them. One timestamp serves as mtime, ctime and atime: the tree is
/// immutable, so nothing changes after it was built (as in squashfs and erofs images).
/// </summary>
public readonly record struct FuseAttributes
{
    /// <summary>
    /// The node id the kernel uses for this node in later requests; stable for the file system's lifetime and never 0.
    /// The root is <see cref="Protocol.FuseProtocol.RootNodeId"/>.
    /// </summary>
    public required ulong NodeId { get; init; }

    /// <summary>The inode number stat reports (st_ino); hard links share it.</summary>
    public required ulong Inode { get; init; }

    /// <summary>The node type.</summary>
    public required FuseNodeType Type { get; init; }

    /// <summary>Permission bits including setuid (04000), setgid (02000) and sticky (01000).</summary>
    public required uint Permissions { get; init; }

    /// <summary>Hard links (for a directory, 2 plus its subdirectories).</summary>
    public uint LinkCount { get; init; }

    /// <summary>Owner.</summary>
    public uint Uid { get; init; }

    /// <summary>Group.</summary>
    public uint Gid { get; init; }

    /// <summary>Size in bytes (symlinks: the target's length).</summary>
    public long Size { get; init; }

    /// <summary>Allocated 512-byte blocks.</summary>
    public long Blocks { get; init; }

    /// <summary>The preferred I/O size stat reports (st_blksize); 0 lets the kernel choose.</summary>
    public uint BlockSize { get; init; }

    /// <summary>Device major number (device nodes).</summary>
    public uint DeviceMajor { get; init; }

    /// <summary>Device minor number (device nodes).</summary>
    public uint DeviceMinor { get; init; }

    /// <summary>The modification time (also reported as change and access time).</summary>
    public UnixTime ModificationTime { get; init; }

    /// <summary>st_mode: type and permission bits.</summary>
    public uint Mode => (uint)Type | (Permissions & 0xFFF);
}

/// <summary>One entry of a directory listing.</summary>
/// <param name="Name">The name (1–255 bytes in UTF-8); "." and ".." included.</param>
/// <param name="Attributes">The entry's attributes (READDIRPLUS hands them to the kernel as if looked up).</param>
public readonly record struct FuseDirectoryEntry(string Name, FuseAttributes Attributes);

/// <summary>Totals <c>statfs</c> reports.</summary>
public readonly record struct FuseFileSystemStatistics
{
    /// <summary>Block size (f_bsize and f_frsize).</summary>
    public uint BlockSize { get; init; }

    /// <summary>Total blocks.</summary>
    public ulong Blocks { get; init; }

    /// <summary>Free blocks (0 for a read-only image).</summary>
    public ulong FreeBlocks { get; init; }

    /// <summary>Total inodes.</summary>
    public ulong Files { get; init; }

    /// <summary>Free inodes (0 for a read-only image).</summary>
    public ulong FreeFiles { get; init; }

    /// <summary>The longest name.</summary>
    public uint MaxNameLength { get; init; }
}
