namespace Accelerator.Oci.Layers;

/// <summary>The kind of file a tar entry describes (POSIX ustar type flags).</summary>
public enum TarEntryKind
{
    /// <summary>A regular file (type flags <c>'0'</c>, <c>'\0'</c> and <c>'7'</c>).</summary>
    RegularFile,

    /// <summary>A hard link to an earlier entry or an existing file (type flag <c>'1'</c>).</summary>
    HardLink,

    /// <summary>A symbolic link (type flag <c>'2'</c>).</summary>
    SymbolicLink,

    /// <summary>A character device (type flag <c>'3'</c>).</summary>
    CharacterDevice,

    /// <summary>A block device (type flag <c>'4'</c>).</summary>
    BlockDevice,

    /// <summary>A directory (type flag <c>'5'</c>).</summary>
    Directory,

    /// <summary>A named pipe (type flag <c>'6'</c>).</summary>
    Fifo,
}
