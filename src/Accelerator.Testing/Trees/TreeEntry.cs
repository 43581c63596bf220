namespace Accelerator.Testing.Trees;

/// <summary>The kind of a file system object.</summary>
public enum TreeEntryType
{
    /// <summary>A regular file.</summary>
    RegularFile,

    /// <summary>A directory.</summary>
    Directory,

    /// <summary>A symbolic link.</summary>
    Symlink,

    /// <summary>A character device.</summary>
    CharacterDevice,

    /// <summary>A block device.</summary>
    BlockDevice,

    /// <summary>A named pipe.</summary>
    Fifo,

    /// <summary>A Unix socket.</summary>
    Socket,
}

/// <summary>What <see cref="TreeSnapshot"/> recorded about one path (as <c>lstat</c> sees it: links are not followed).</summary>
public sealed record TreeEntry
{
    /// <summary>The path relative to the snapshot root, with <c>/</c> separators; the root itself is <c>.</c>.</summary>
    public required string Path { get; init; }

    /// <summary>The kind of object.</summary>
    public required TreeEntryType Type { get; init; }

    /// <summary>Permission bits including setuid (04000), setgid (02000) and sticky (01000).</summary>
    public required int Permissions { get; init; }

    /// <summary>Owner user id.</summary>
    public required uint Uid { get; init; }

    /// <summary>Owner group id.</summary>
    public required uint Gid { get; init; }

    /// <summary>Size in bytes (regular files; for other kinds what lstat says).</summary>
    public required long Size { get; init; }

    /// <summary>Bytes allocated on disk (<c>st_blocks</c> × 512); smaller than <see cref="Size"/> for sparse files.</summary>
    public required long AllocatedSize { get; init; }

    /// <summary>Lowercase hex sha256 of the content, for regular files; null otherwise.</summary>
    public string? Sha256 { get; init; }

    /// <summary>The link target, for symlinks; null otherwise.</summary>
    public string? SymlinkTarget { get; init; }

    /// <summary>Device major number, for device nodes; 0 otherwise.</summary>
    public uint DeviceMajor { get; init; }

    /// <summary>Device minor number, for device nodes; 0 otherwise.</summary>
    public uint DeviceMinor { get; init; }

    /// <summary>Extended attributes, name to raw value.</summary>
    public required IReadOnlyDictionary<string, byte[]> Xattrs { get; init; }

    /// <summary>Modification time in nanoseconds since the Unix epoch.</summary>
    public required long MtimeNanoseconds { get; init; }

    /// <summary>The number of links the file system reports (may count links outside the tree).</summary>
    public required uint LinkCount { get; init; }

    /// <summary>
    /// The paths of the tree that share this entry's inode, sorted, including this one; empty when no other path does.
    /// Directories never form groups.
    /// </summary>
    public IReadOnlyList<string> HardlinkGroup { get; internal set; } = [];

    /// <summary>The inode number (only meaningful within one snapshot; not compared).</summary>
    public required ulong Inode { get; init; }

    /// <inheritdoc />
    public override string ToString() => $"{Path} {Type} {Convert.ToString(Permissions, 8)} {Uid}:{Gid} {Size}";
}
