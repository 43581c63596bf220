namespace Accelerator.Fuse.Protocol;

/// <summary>The operation of a request (<c>enum fuse_opcode</c> in linux/fuse.h).</summary>
public enum FuseOpcode : uint
{
    /// <summary>Look up a name in a directory; the reply is an entry (node id and attributes).</summary>
    Lookup = 1,

    /// <summary>The kernel dropped references to a node; no reply.</summary>
    Forget = 2,

    /// <summary>Attributes of a node.</summary>
    GetAttr = 3,

    /// <summary>Change attributes (not served: the tree is read-only).</summary>
    SetAttr = 4,

    /// <summary>The target of a symbolic link.</summary>
    ReadLink = 5,

    /// <summary>Create a symbolic link (not served).</summary>
    Symlink = 6,

    /// <summary>Create a node (not served).</summary>
    Mknod = 8,

    /// <summary>Create a directory (not served).</summary>
    Mkdir = 9,

    /// <summary>Remove a file (not served).</summary>
    Unlink = 10,

    /// <summary>Remove a directory (not served).</summary>
    Rmdir = 11,

    /// <summary>Rename (not served).</summary>
    Rename = 12,

    /// <summary>Create a hard link (not served).</summary>
    Link = 13,

    /// <summary>Open a file.</summary>
    Open = 14,

    /// <summary>Read file data.</summary>
    Read = 15,

    /// <summary>Write file data (not served).</summary>
    Write = 16,

    /// <summary>File system statistics.</summary>
    StatFs = 17,

    /// <summary>Close a file opened with <see cref="Open"/>.</summary>
    Release = 18,

    /// <summary>Flush file data to storage.</summary>
    Fsync = 20,

    /// <summary>Set an extended attribute (not served).</summary>
    SetXattr = 21,

    /// <summary>Read an extended attribute.</summary>
    GetXattr = 22,

    /// <summary>List extended attribute names.</summary>
    ListXattr = 23,

    /// <summary>Remove an extended attribute (not served).</summary>
    RemoveXattr = 24,

    /// <summary>Sent on every close of a file descriptor.</summary>
    Flush = 25,

    /// <summary>The first request of a connection: version and capability negotiation.</summary>
    Init = 26,

    /// <summary>Open a directory.</summary>
    OpenDir = 27,

    /// <summary>Read directory entries.</summary>
    ReadDir = 28,

    /// <summary>Close a directory opened with <see cref="OpenDir"/>.</summary>
    ReleaseDir = 29,

    /// <summary>Flush a directory.</summary>
    FsyncDir = 30,

    /// <summary>Test a POSIX lock.</summary>
    GetLk = 31,

    /// <summary>Set a POSIX lock.</summary>
    SetLk = 32,

    /// <summary>Set a POSIX lock, waiting.</summary>
    SetLkW = 33,

    /// <summary>Check access permissions (only sent without <c>default_permissions</c>).</summary>
    Access = 34,

    /// <summary>Create and open a file (not served).</summary>
    Create = 35,

    /// <summary>Interrupt an earlier request (the process waiting for it got a signal).</summary>
    Interrupt = 36,

    /// <summary>Map a block (fuseblk only).</summary>
    Bmap = 37,

    /// <summary>The connection is being shut down.</summary>
    Destroy = 38,

    /// <summary>ioctl on a file.</summary>
    Ioctl = 39,

    /// <summary>poll on a file.</summary>
    Poll = 40,

    /// <summary>Reply to a retrieve notification.</summary>
    NotifyReply = 41,

    /// <summary>Several <see cref="Forget"/>s in one message; no reply.</summary>
    BatchForget = 42,

    /// <summary>Allocate file space (not served).</summary>
    Fallocate = 43,

    /// <summary>Read directory entries with each entry's attributes (a READDIR and LOOKUPs in one).</summary>
    ReadDirPlus = 44,

    /// <summary>Rename with flags (not served).</summary>
    Rename2 = 45,

    /// <summary>Find data or holes.</summary>
    Lseek = 46,

    /// <summary>Copy a range between files (not served).</summary>
    CopyFileRange = 47,

    /// <summary>DAX: map a range (virtiofs).</summary>
    SetupMapping = 48,

    /// <summary>DAX: unmap ranges (virtiofs).</summary>
    RemoveMapping = 49,

    /// <summary>Sync the file system.</summary>
    SyncFs = 50,

    /// <summary>Create an unnamed temporary file (not served).</summary>
    TmpFile = 51,
}

/// <summary>
/// Notifications a server sends unasked (<c>enum fuse_notify_code</c> in linux/fuse.h): a <c>fuse_out_header</c> with
/// <c>unique</c> 0 and the code in <c>error</c>, then the code's body.
/// </summary>
public enum FuseNotifyCode
{
    /// <summary>FUSE_NOTIFY_POLL: wake a poller.</summary>
    Poll = 1,

    /// <summary>FUSE_NOTIFY_INVAL_INODE: drop cached data and attributes of a node.</summary>
    InvalidateInode = 2,

    /// <summary>FUSE_NOTIFY_INVAL_ENTRY: drop a cached name.</summary>
    InvalidateEntry = 3,

    /// <summary>FUSE_NOTIFY_STORE: put data in the page cache.</summary>
    Store = 4,

    /// <summary>FUSE_NOTIFY_RETRIEVE: ask for cached data back.</summary>
    Retrieve = 5,

    /// <summary>FUSE_NOTIFY_DELETE: a name was deleted.</summary>
    Delete = 6,

    /// <summary>
    /// FUSE_NOTIFY_RESEND (7.40, Linux 6.9): no body; the kernel moves every request read but not answered back to its
    /// pending queue, each with <see cref="FuseProtocol.UniqueResend"/> set, so a successor serves what a predecessor
    /// read and never answered. Older kernels refuse the code with EINVAL.
    /// </summary>
    Resend = 7,
}
