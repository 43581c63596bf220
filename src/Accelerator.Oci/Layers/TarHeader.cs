namespace Accelerator.Oci.Layers;

/// <summary>
/// One 512-byte tar header block, decoded field by field. Layout from POSIX.1-2017 "pax" (ustar header block) and
/// the GNU tar manual, "Basic Tar Format" (GNU variant: atime/ctime/offset/sparse fields where ustar has prefix).
/// </summary>
internal sealed partial class TarHeader
{
    /// <summary>The size of a tar block.</summary>
    public const int BlockSize = 512;

    /// <summary>Which header variant the magic field announced.</summary>
    public TarHeaderFormat Format { get; private init; }

    /// <summary>Name bytes (ustar prefix and name joined with '/').</summary>
    public byte[] Name { get; private init; } = [];

    public long Mode { get; private init; }

    public long Uid { get; private init; }

    public long Gid { get; private init; }

    /// <summary>The size field: the number of data bytes that follow the header in the archive.</summary>
    public long Size { get; private init; }

    public long ModificationTime { get; private init; }

    public byte TypeFlag { get; private init; }

    public byte[] LinkName { get; private init; } = [];

    public byte[] UserName { get; private init; } = [];

    public byte[] GroupName { get; private init; } = [];

    public long DeviceMajor { get; private init; }

    public long DeviceMinor { get; private init; }

    /// <summary>Old GNU sparse ('S'): the map entries held in the header itself.</summary>
    public List<TarSparseSegment>? GnuSparse { get; private init; }

    /// <summary>Old GNU sparse ('S'): whether extension blocks with more map entries follow.</summary>
    public bool GnuSparseExtended { get; private init; }

    /// <summary>Old GNU sparse ('S'): the real (logical) file size.</summary>
    public long GnuRealSize { get; private init; }
}

/// <summary>The header variant announced by the magic and version fields.</summary>
internal enum TarHeaderFormat
{
    /// <summary>No magic: the original Unix V7 layout.</summary>
    V7,

    /// <summary><c>ustar\0</c> <c>00</c>: POSIX ustar (and pax, which adds extension headers).</summary>
    Ustar,

    /// <summary><c>ustar </c> <c> \0</c>: GNU tar's own layout.</summary>
    Gnu,
}
