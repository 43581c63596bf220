namespace Accelerator.Lazy.Conversion;

/// <summary>
/// One inode of the flattened tree the converter builds in memory: attributes, and for a regular file the chunks of
/// its data (never the data itself). Hard links are one node held by several directories.
/// </summary>
internal sealed class FlatNode
{
    private FlatNode(FileEntryType type) => Type = type;

    public FileEntryType Type { get; }

    public uint Mode { get; set; }

    public uint Uid { get; set; }

    public uint Gid { get; set; }

    public long MtimeSeconds { get; set; }

    public int MtimeNanoseconds { get; set; }

    /// <summary>Extended attributes by name (ordinal), raw values; null when none.</summary>
    public SortedDictionary<string, byte[]>? Xattrs { get; set; }

    public string? LinkTarget { get; init; }

    public uint DeviceMajor { get; init; }

    public uint DeviceMinor { get; init; }

    /// <summary>The logical size of a regular file.</summary>
    public long Size { get; set; }

    /// <summary>The data pieces of a regular file, ascending by offset; holes are the gaps.</summary>
    public IReadOnlyList<FileChunkReference> Chunks { get; set; } = [];

    /// <summary>A directory's entries.</summary>
    public Dictionary<string, FlatNode>? Children { get; private init; }

    public static FlatNode Directory(uint mode) => new(FileEntryType.Directory) { Mode = mode, Children = new(StringComparer.Ordinal) };

    public static FlatNode File(uint mode) => new(FileEntryType.Regular) { Mode = mode };

    // Linux symbolic links always have mode 0777 (lstat); chmod does not apply to them.
    public static FlatNode Symlink(string target) => new(FileEntryType.Symlink) { Mode = 0x1FF, LinkTarget = target };

    public static FlatNode Special(FileEntryType type, uint mode, uint major, uint minor) => new(type) { Mode = mode, DeviceMajor = major, DeviceMinor = minor };

    public bool IsDirectory => Type == FileEntryType.Directory;
}

/// <summary>A piece of a file: the chunk holding <c>[Offset, Offset + chunk size)</c> of the file.</summary>
/// <param name="Offset">Offset in the file.</param>
/// <param name="Chunk">The converter's chunk id.</param>
internal readonly record struct FileChunkReference(long Offset, int Chunk);
