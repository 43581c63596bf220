namespace Accelerator.Testing.Tar;

/// <summary>Every field of one entry written by <see cref="TarBuilder.Add(TarBuilderEntry)"/>.</summary>
public sealed class TarBuilderEntry
{
    /// <summary>The name, written exactly as given.</summary>
    public required string Path { get; init; }

    /// <summary>The ustar type flag ('0' file, '1' hard link, '2' symlink, '3' char, '4' block, '5' dir, '6' fifo, ...).</summary>
    public char TypeFlag { get; init; } = '0';

    /// <summary>Permission bits.</summary>
    public UnixFileMode Mode { get; init; } = (UnixFileMode)0x1A4;

    /// <summary>Owner user ID (base-256 when it does not fit in octal).</summary>
    public long Uid { get; init; }

    /// <summary>Owner group ID.</summary>
    public long Gid { get; init; }

    /// <summary>Owner user name (default "root" for uid 0).</summary>
    public string? UserName { get; init; }

    /// <summary>Owner group name (default "root" for gid 0).</summary>
    public string? GroupName { get; init; }

    /// <summary>Modification time, seconds since the epoch.</summary>
    public long ModificationTime { get; init; } = TarBuilder.DefaultTime;

    /// <summary>Nanoseconds of the modification time; non-zero adds a pax <c>mtime</c> record.</summary>
    public int ModificationNanoseconds { get; init; }

    /// <summary>Link target of links.</summary>
    public string? LinkTarget { get; init; }

    /// <summary>Device major number.</summary>
    public int DeviceMajor { get; init; }

    /// <summary>Device minor number.</summary>
    public int DeviceMinor { get; init; }

    /// <summary>The data written after the header (the size field is its length).</summary>
    public byte[] Data { get; init; } = [];

    /// <summary>Extended attributes, written as pax <c>SCHILY.xattr.NAME</c> records.</summary>
    public IReadOnlyDictionary<string, byte[]> ExtendedAttributes { get; init; } = new Dictionary<string, byte[]>();

    /// <summary>Further pax records to write before the entry.</summary>
    public IReadOnlyList<KeyValuePair<string, byte[]>> ExtraPaxRecords { get; init; } = [];
}
