namespace Accelerator.Linux;

/// <summary>What statx(2) says about a file (the fields of <c>struct statx</c> Accelerator looks at).</summary>
/// <param name="Mode">Type and permission bits (<c>stx_mode</c>).</param>
/// <param name="Uid">Owner.</param>
/// <param name="Gid">Group.</param>
/// <param name="Nlink">Hard link count.</param>
/// <param name="Inode">Inode number.</param>
/// <param name="Size">Size in bytes.</param>
/// <param name="Blocks">Allocated 512-byte blocks.</param>
/// <param name="MtimeSeconds">Modification time, seconds since the Unix epoch.</param>
/// <param name="MtimeNanoseconds">Modification time, nanoseconds within the second.</param>
/// <param name="RdevMajor">Major number of a device node.</param>
/// <param name="RdevMinor">Minor number of a device node.</param>
/// <param name="DevMajor">Major number of the device the file lives on.</param>
/// <param name="DevMinor">Minor number of the device the file lives on.</param>
public readonly record struct FileStatus(
    uint Mode, uint Uid, uint Gid, uint Nlink, ulong Inode, long Size, long Blocks,
    long MtimeSeconds, uint MtimeNanoseconds, uint RdevMajor, uint RdevMinor, uint DevMajor = 0, uint DevMinor = 0)
{
    /// <summary>The file type bits (<see cref="LibC.S_IFMT"/> of <see cref="Mode"/>).</summary>
    public uint Type => Mode & LibC.S_IFMT;

    /// <summary>Whether this is a directory.</summary>
    public bool IsDirectory => Type == LibC.S_IFDIR;

    /// <summary>Whether this is a symbolic link.</summary>
    public bool IsSymbolicLink => Type == LibC.S_IFLNK;

    /// <summary>Whether this is a unix socket.</summary>
    public bool IsSocket => Type == LibC.S_IFSOCK;
}
