namespace Accelerator.Oci.Layers;

/// <summary>
/// The metadata of one tar entry after every extension header that applies to it (PAX <c>x</c>/<c>g</c>, GNU
/// <c>L</c>/<c>K</c>, GNU sparse maps) has been merged in. Values are kept exactly as the archive states them.
/// </summary>
public sealed class TarEntryHeader
{
    private static readonly IReadOnlyDictionary<string, ReadOnlyMemory<byte>> NoAttributes =
        new Dictionary<string, ReadOnlyMemory<byte>>(0);

    /// <summary>The entry's name as written in the archive (not cleaned: may hold <c>..</c>, a leading <c>/</c>, or end in <c>/</c>).</summary>
    public required string Path { get; init; }

    /// <summary>What kind of file the entry is.</summary>
    public required TarEntryKind Kind { get; init; }

    /// <summary>Permission bits including set-user-ID, set-group-ID and sticky (the low 12 bits of the mode field).</summary>
    public UnixFileMode Mode { get; init; }

    /// <summary>Owner user ID.</summary>
    public long Uid { get; init; }

    /// <summary>Owner group ID.</summary>
    public long Gid { get; init; }

    /// <summary>Owner user name, or <see langword="null"/> when the archive has none.</summary>
    public string? UserName { get; init; }

    /// <summary>Owner group name, or <see langword="null"/> when the archive has none.</summary>
    public string? GroupName { get; init; }

    /// <summary>The file's logical size in bytes (for a sparse file, including its holes); 0 for everything but regular files.</summary>
    public long Size { get; init; }

    /// <summary>Modification time, to the nanosecond when a PAX <c>mtime</c> record gives fractions.</summary>
    public TarTimestamp ModificationTime { get; init; }

    /// <summary>Target of a symbolic link (verbatim) or of a hard link (an archive path), else <see langword="null"/>.</summary>
    public string? LinkTarget { get; init; }

    /// <summary>Major device number of a character or block device.</summary>
    public int DeviceMajor { get; init; }

    /// <summary>Minor device number of a character or block device.</summary>
    public int DeviceMinor { get; init; }

    /// <summary>Extended attributes (PAX <c>SCHILY.xattr.NAME</c>), keyed by attribute name, with raw byte values.</summary>
    public IReadOnlyDictionary<string, ReadOnlyMemory<byte>> ExtendedAttributes { get; init; } = NoAttributes;

    /// <summary>For a sparse regular file, its data segments in ascending order; <see langword="null"/> for a dense file.</summary>
    public IReadOnlyList<TarSparseSegment>? SparseMap { get; init; }

    /// <inheritdoc />
    public override string ToString() => $"{Kind} {Path}";
}
