namespace Accelerator.Linux;

/// <summary>
/// The Linux error numbers Accelerator uses: what system calls set (<see cref="System.Runtime.InteropServices.Marshal.GetLastPInvokeError"/>)
/// and what a FUSE reply carries (negated, in <c>fuse_out_header.error</c>). From asm-generic/errno-base.h and
/// asm-generic/errno.h, which x86-64 and arm64 share.
/// </summary>
public static class Errno
{
    /// <summary>Operation not permitted.</summary>
    public const int EPERM = 1;

    /// <summary>No such file or directory.</summary>
    public const int ENOENT = 2;

    /// <summary>Interrupted system call.</summary>
    public const int EINTR = 4;

    /// <summary>I/O error.</summary>
    public const int EIO = 5;

    /// <summary>Bad file descriptor.</summary>
    public const int EBADF = 9;

    /// <summary>Try again; also <c>EWOULDBLOCK</c>.</summary>
    public const int EAGAIN = 11;

    /// <summary>Out of memory.</summary>
    public const int ENOMEM = 12;

    /// <summary>Permission denied.</summary>
    public const int EACCES = 13;

    /// <summary>Device or resource busy.</summary>
    public const int EBUSY = 16;

    /// <summary>No such device (the FUSE connection is gone).</summary>
    public const int ENODEV = 19;

    /// <summary>File exists.</summary>
    public const int EEXIST = 17;

    /// <summary>Not a directory.</summary>
    public const int ENOTDIR = 20;

    /// <summary>Is a directory.</summary>
    public const int EISDIR = 21;

    /// <summary>Invalid argument.</summary>
    public const int EINVAL = 22;

    /// <summary>Read-only file system.</summary>
    public const int EROFS = 30;

    /// <summary>Result out of range (a buffer too small for an xattr value or list).</summary>
    public const int ERANGE = 34;

    /// <summary>File name too long.</summary>
    public const int ENAMETOOLONG = 36;

    /// <summary>Function not implemented.</summary>
    public const int ENOSYS = 38;

    /// <summary>Too many symbolic links (or a final link refused by O_NOFOLLOW).</summary>
    public const int ELOOP = 40;

    /// <summary>No data available (no such extended attribute).</summary>
    public const int ENODATA = 61;

    /// <summary>Protocol error.</summary>
    public const int EPROTO = 71;

    /// <summary>Operation not supported.</summary>
    public const int EOPNOTSUPP = 95;

    /// <summary>Software caused connection abort (an aborted FUSE connection).</summary>
    public const int ECONNABORTED = 103;

    /// <summary>Transport endpoint is not connected (a dead FUSE connection).</summary>
    public const int ENOTCONN = 107;

    /// <summary>The largest errno; replies carry -1 … -4095.</summary>
    public const int MaxErrno = 4095;
}
