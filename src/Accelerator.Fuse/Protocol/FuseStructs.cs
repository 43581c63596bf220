using System.Runtime.InteropServices;

namespace Accelerator.Fuse.Protocol;

// The structures of linux/fuse.h, field for field, in the kernel's native (little-endian on x86_64 and arm64) layout.
// Every one is padded to a multiple of 8 bytes by the header itself; tests check each size against the header.
#pragma warning disable CA1051 // wire structures: public fields mirror the C layout

/// <summary><c>struct fuse_in_header</c>: the start of every request.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseInHeader
{
    /// <summary>The length of the whole request, header included.</summary>
    public uint Length;

    /// <summary>The operation (<see cref="FuseOpcode"/>).</summary>
    public uint Opcode;

    /// <summary>The request id the reply must carry.</summary>
    public ulong Unique;

    /// <summary>The node the request is about.</summary>
    public ulong NodeId;

    /// <summary>The uid of the calling process.</summary>
    public uint Uid;

    /// <summary>The gid of the calling process.</summary>
    public uint Gid;

    /// <summary>The pid (thread group id) of the calling process.</summary>
    public uint Pid;

    /// <summary>The length of extensions after the request's arguments, in 8-byte units (7.36+).</summary>
    public ushort TotalExtensionLength;

    /// <summary>Padding.</summary>
    public ushort Padding;
}

/// <summary><c>struct fuse_out_header</c>: the start of every reply.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseOutHeader
{
    /// <summary>The length of the whole reply, header included.</summary>
    public uint Length;

    /// <summary>0, or a negated errno.</summary>
    public int Error;

    /// <summary>The <see cref="FuseInHeader.Unique"/> of the request answered.</summary>
    public ulong Unique;
}

/// <summary><c>struct fuse_init_in</c> (7.36+ layout; older kernels send only the first 16 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct FuseInitIn
{
    /// <summary>The kernel's major version.</summary>
    public uint Major;

    /// <summary>The kernel's minor version.</summary>
    public uint Minor;

    /// <summary>The largest readahead the kernel will use, in bytes.</summary>
    public uint MaxReadahead;

    /// <summary>Capabilities the kernel offers (bits 0–31 of <see cref="FuseInitFlags"/>).</summary>
    public uint Flags;

    /// <summary>Capabilities bits 32–63 (valid with FUSE_INIT_EXT).</summary>
    public uint Flags2;

    /// <summary>Reserved.</summary>
    public fixed uint Unused[11];
}

/// <summary><c>struct fuse_init_out</c> (7.23+ layout; older protocols take a prefix, see <see cref="FuseInit"/>).</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct FuseInitOut
{
    /// <summary>The server's major version.</summary>
    public uint Major;

    /// <summary>The negotiated minor version.</summary>
    public uint Minor;

    /// <summary>The readahead the server wants (at most the kernel's offer).</summary>
    public uint MaxReadahead;

    /// <summary>Capabilities granted (bits 0–31).</summary>
    public uint Flags;

    /// <summary>The most background (asynchronous) requests in flight.</summary>
    public ushort MaxBackground;

    /// <summary>Background requests at which the kernel considers the connection congested.</summary>
    public ushort CongestionThreshold;

    /// <summary>The largest WRITE payload.</summary>
    public uint MaxWrite;

    /// <summary>Timestamp granularity in nanoseconds (1: full precision).</summary>
    public uint TimeGranularity;

    /// <summary>The most pages per request (with FUSE_MAX_PAGES): bounds READ sizes.</summary>
    public ushort MaxPages;

    /// <summary>log2 of the DAX mapping alignment.</summary>
    public ushort MapAlignment;

    /// <summary>Capabilities granted, bits 32–63 (with FUSE_INIT_EXT).</summary>
    public uint Flags2;

    /// <summary>Reserved.</summary>
    public fixed uint Unused[7];
}

/// <summary><c>struct fuse_attr</c>: the attributes of a node.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseAttr
{
    /// <summary>The inode number (st_ino).</summary>
    public ulong Ino;

    /// <summary>Size in bytes.</summary>
    public ulong Size;

    /// <summary>Allocated 512-byte blocks.</summary>
    public ulong Blocks;

    /// <summary>Access time, seconds.</summary>
    public ulong Atime;

    /// <summary>Modification time, seconds.</summary>
    public ulong Mtime;

    /// <summary>Status change time, seconds.</summary>
    public ulong Ctime;

    /// <summary>Access time, nanoseconds.</summary>
    public uint AtimeNsec;

    /// <summary>Modification time, nanoseconds.</summary>
    public uint MtimeNsec;

    /// <summary>Status change time, nanoseconds.</summary>
    public uint CtimeNsec;

    /// <summary>Type and permission bits (st_mode).</summary>
    public uint Mode;

    /// <summary>Hard links.</summary>
    public uint Nlink;

    /// <summary>Owner.</summary>
    public uint Uid;

    /// <summary>Group.</summary>
    public uint Gid;

    /// <summary>Device number of a device node, in the kernel's new_encode_dev form.</summary>
    public uint Rdev;

    /// <summary>Preferred I/O size (7.9+).</summary>
    public uint BlockSize;

    /// <summary>FUSE_ATTR_* flags (7.9+).</summary>
    public uint Flags;
}

/// <summary><c>struct fuse_entry_out</c>: the reply to LOOKUP, and part of each READDIRPLUS record.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseEntryOut
{
    /// <summary>The node id (0: a negative entry, cached for <see cref="EntryValid"/>).</summary>
    public ulong NodeId;

    /// <summary>The generation: node id and generation are unique for the file system's lifetime.</summary>
    public ulong Generation;

    /// <summary>How long the kernel may cache the name, seconds.</summary>
    public ulong EntryValid;

    /// <summary>How long the kernel may cache the attributes, seconds.</summary>
    public ulong AttrValid;

    /// <summary>Nanoseconds part of <see cref="EntryValid"/>.</summary>
    public uint EntryValidNsec;

    /// <summary>Nanoseconds part of <see cref="AttrValid"/>.</summary>
    public uint AttrValidNsec;

    /// <summary>The attributes.</summary>
    public FuseAttr Attr;
}

/// <summary><c>struct fuse_attr_out</c>: the reply to GETATTR.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseAttrOut
{
    /// <summary>How long the kernel may cache the attributes, seconds.</summary>
    public ulong AttrValid;

    /// <summary>Nanoseconds part of <see cref="AttrValid"/>.</summary>
    public uint AttrValidNsec;

    /// <summary>Padding.</summary>
    public uint Dummy;

    /// <summary>The attributes.</summary>
    public FuseAttr Attr;
}

/// <summary><c>struct fuse_getattr_in</c> (7.9+).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseGetAttrIn
{
    /// <summary>FUSE_GETATTR_* flags.</summary>
    public uint GetAttrFlags;

    /// <summary>Padding.</summary>
    public uint Dummy;

    /// <summary>The file handle, with FUSE_GETATTR_FH.</summary>
    public ulong FileHandle;
}

/// <summary><c>struct fuse_open_in</c>: OPEN and OPENDIR.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseOpenIn
{
    /// <summary>The open(2) flags.</summary>
    public uint Flags;

    /// <summary>FUSE_OPEN_* flags.</summary>
    public uint OpenFlags;
}

/// <summary><c>struct fuse_open_out</c>: the reply to OPEN and OPENDIR.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseOpenOut
{
    /// <summary>The file handle later requests carry.</summary>
    public ulong FileHandle;

    /// <summary><see cref="FuseOpenFlags"/>.</summary>
    public uint OpenFlags;

    /// <summary>Padding.</summary>
    public uint Padding;
}

/// <summary><c>struct fuse_release_in</c>: RELEASE and RELEASEDIR.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseReleaseIn
{
    /// <summary>The handle from the open reply.</summary>
    public ulong FileHandle;

    /// <summary>The open(2) flags.</summary>
    public uint Flags;

    /// <summary>FUSE_RELEASE_* flags.</summary>
    public uint ReleaseFlags;

    /// <summary>The lock owner.</summary>
    public ulong LockOwner;
}

/// <summary><c>struct fuse_read_in</c>: READ, READDIR and READDIRPLUS (before 7.9 only the first 24 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseReadIn
{
    /// <summary>The handle from the open reply.</summary>
    public ulong FileHandle;

    /// <summary>The offset (READ: bytes; READDIR: the cookie of the last entry returned, 0 at the start).</summary>
    public ulong Offset;

    /// <summary>The most bytes the reply may carry.</summary>
    public uint Size;

    /// <summary>FUSE_READ_* flags.</summary>
    public uint ReadFlags;

    /// <summary>The lock owner (7.9+).</summary>
    public ulong LockOwner;

    /// <summary>The open(2) flags (7.9+).</summary>
    public uint Flags;

    /// <summary>Padding.</summary>
    public uint Padding;
}

/// <summary><c>struct fuse_getxattr_in</c>: GETXATTR (followed by the NUL-terminated name) and LISTXATTR.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseGetXattrIn
{
    /// <summary>The caller's buffer size; 0 asks only for the size.</summary>
    public uint Size;

    /// <summary>Padding.</summary>
    public uint Padding;
}

/// <summary><c>struct fuse_getxattr_out</c>: the size-only reply of GETXATTR/LISTXATTR.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseGetXattrOut
{
    /// <summary>The size of the value or list.</summary>
    public uint Size;

    /// <summary>Padding.</summary>
    public uint Padding;
}

/// <summary><c>struct fuse_access_in</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseAccessIn
{
    /// <summary>R_OK (4), W_OK (2), X_OK (1), or F_OK (0).</summary>
    public uint Mask;

    /// <summary>Padding.</summary>
    public uint Padding;
}

/// <summary><c>struct fuse_interrupt_in</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseInterruptIn
{
    /// <summary>The unique of the request to interrupt.</summary>
    public ulong Unique;
}

/// <summary><c>struct fuse_forget_in</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseForgetIn
{
    /// <summary>How many lookups of the node the kernel forgets.</summary>
    public ulong NLookup;
}

/// <summary><c>struct fuse_forget_one</c>: one item of BATCH_FORGET.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseForgetOne
{
    /// <summary>The node.</summary>
    public ulong NodeId;

    /// <summary>How many lookups the kernel forgets.</summary>
    public ulong NLookup;
}

/// <summary><c>struct fuse_batch_forget_in</c>, followed by <see cref="Count"/> <see cref="FuseForgetOne"/>s.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseBatchForgetIn
{
    /// <summary>The number of items.</summary>
    public uint Count;

    /// <summary>Padding.</summary>
    public uint Dummy;
}

/// <summary><c>struct fuse_kstatfs</c> (the body of <c>fuse_statfs_out</c>).</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct FuseKstatfs
{
    /// <summary>Total blocks of <see cref="FragmentSize"/>.</summary>
    public ulong Blocks;

    /// <summary>Free blocks.</summary>
    public ulong BlocksFree;

    /// <summary>Free blocks for unprivileged users.</summary>
    public ulong BlocksAvailable;

    /// <summary>Total inodes.</summary>
    public ulong Files;

    /// <summary>Free inodes.</summary>
    public ulong FilesFree;

    /// <summary>Block size.</summary>
    public uint BlockSize;

    /// <summary>The longest name.</summary>
    public uint NameLength;

    /// <summary>Fragment size.</summary>
    public uint FragmentSize;

    /// <summary>Padding.</summary>
    public uint Padding;

    /// <summary>Reserved.</summary>
    public fixed uint Spare[6];
}

/// <summary>The fixed part of <c>struct fuse_dirent</c>; the name follows, and the record is padded to 8 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseDirent
{
    /// <summary>The inode number (d_ino).</summary>
    public ulong Ino;

    /// <summary>The cookie of the next entry: READDIR with this offset continues after this entry.</summary>
    public ulong Offset;

    /// <summary>The length of the name.</summary>
    public uint NameLength;

    /// <summary>The DT_* type (the st_mode type bits shifted right by 12).</summary>
    public uint Type;
}

/// <summary>
/// <c>struct fuse_notify_retrieve_out</c>: the body of a <see cref="FuseNotifyCode.Retrieve"/> notification, which makes
/// the kernel send a <see cref="FuseOpcode.NotifyReply"/> request (no reply expected) with the node's cached data.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseNotifyRetrieveOut
{
    /// <summary>The unique the kernel gives the NOTIFY_REPLY request.</summary>
    public ulong NotifyUnique;

    /// <summary>The node whose cached pages are asked for (it must be in the kernel's inode cache).</summary>
    public ulong NodeId;

    /// <summary>Where the range starts.</summary>
    public ulong Offset;

    /// <summary>How many bytes (clamped to max_write and the file size; 0 sends an empty reply).</summary>
    public uint Size;

    /// <summary>Padding.</summary>
    public uint Padding;
}

/// <summary><c>struct fuse_notify_retrieve_in</c>: the arguments of a NOTIFY_REPLY request; the data follows.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseNotifyRetrieveIn
{
    /// <summary>Unused.</summary>
    public ulong Dummy1;

    /// <summary>Where the data starts.</summary>
    public ulong Offset;

    /// <summary>How many bytes of data follow.</summary>
    public uint Size;

    /// <summary>Unused.</summary>
    public uint Dummy2;

    /// <summary>Unused.</summary>
    public ulong Dummy3;

    /// <summary>Unused.</summary>
    public ulong Dummy4;
}
#pragma warning restore CA1051
