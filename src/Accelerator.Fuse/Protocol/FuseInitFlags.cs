namespace Accelerator.Fuse.Protocol;

/// <summary>
/// Capabilities negotiated by INIT (<c>FUSE_*</c> INIT flags in linux/fuse.h). Bits 0–31 travel in
/// <c>fuse_init_in/out.flags</c>; bits 32–63 in <c>flags2</c> (protocol 7.36+, when <see cref="InitExtended"/> is set).
/// </summary>
[Flags]
public enum FuseInitFlags : ulong
{
    /// <summary>No flags.</summary>
    None = 0,

    /// <summary>FUSE_ASYNC_READ: the kernel may send several reads (readahead) at once, without waiting.</summary>
    AsyncRead = 1UL << 0,

    /// <summary>FUSE_POSIX_LOCKS: the file system handles POSIX locks.</summary>
    PosixLocks = 1UL << 1,

    /// <summary>FUSE_FILE_OPS (unused by the kernel).</summary>
    FileOps = 1UL << 2,

    /// <summary>FUSE_ATOMIC_O_TRUNC: the file system handles O_TRUNC in OPEN.</summary>
    AtomicOTrunc = 1UL << 3,

    /// <summary>FUSE_EXPORT_SUPPORT: the file system answers LOOKUP of "." and ".." (NFS export).</summary>
    ExportSupport = 1UL << 4,

    /// <summary>FUSE_BIG_WRITES: writes larger than 4 KiB.</summary>
    BigWrites = 1UL << 5,

    /// <summary>FUSE_DONT_MASK: do not apply the umask on create.</summary>
    DontMask = 1UL << 6,

    /// <summary>FUSE_SPLICE_WRITE: the kernel can splice into the device.</summary>
    SpliceWrite = 1UL << 7,

    /// <summary>FUSE_SPLICE_MOVE: the kernel can move pages when splicing.</summary>
    SpliceMove = 1UL << 8,

    /// <summary>FUSE_SPLICE_READ: the kernel can splice from the device.</summary>
    SpliceRead = 1UL << 9,

    /// <summary>FUSE_FLOCK_LOCKS: the file system handles BSD locks.</summary>
    FlockLocks = 1UL << 10,

    /// <summary>FUSE_HAS_IOCTL_DIR: ioctl on directories.</summary>
    HasIoctlDir = 1UL << 11,

    /// <summary>FUSE_AUTO_INVAL_DATA: invalidate cached pages when the size or mtime changes.</summary>
    AutoInvalidateData = 1UL << 12,

    /// <summary>FUSE_DO_READDIRPLUS: READDIRPLUS is used.</summary>
    DoReaddirplus = 1UL << 13,

    /// <summary>FUSE_READDIRPLUS_AUTO: the kernel chooses READDIR or READDIRPLUS adaptively.</summary>
    ReaddirplusAuto = 1UL << 14,

    /// <summary>FUSE_ASYNC_DIO: asynchronous direct I/O.</summary>
    AsyncDio = 1UL << 15,

    /// <summary>FUSE_WRITEBACK_CACHE: write-back caching of writes.</summary>
    WritebackCache = 1UL << 16,

    /// <summary>FUSE_NO_OPEN_SUPPORT: the kernel supports zero-message opens.</summary>
    NoOpenSupport = 1UL << 17,

    /// <summary>FUSE_PARALLEL_DIROPS: lookups and readdirs of one directory may run in parallel.</summary>
    ParallelDirops = 1UL << 18,

    /// <summary>FUSE_HANDLE_KILLPRIV: the file system clears setuid/setgid on write.</summary>
    HandleKillpriv = 1UL << 19,

    /// <summary>FUSE_POSIX_ACL: the file system handles POSIX ACLs.</summary>
    PosixAcl = 1UL << 20,

    /// <summary>FUSE_ABORT_ERROR: reads of an aborted device fail with ECONNABORTED.</summary>
    AbortError = 1UL << 21,

    /// <summary>FUSE_MAX_PAGES: <c>fuse_init_out.max_pages</c> sets the pages per request (reads beyond 128 KiB).</summary>
    MaxPages = 1UL << 22,

    /// <summary>FUSE_CACHE_SYMLINKS: the kernel caches READLINK replies.</summary>
    CacheSymlinks = 1UL << 23,

    /// <summary>FUSE_NO_OPENDIR_SUPPORT: the kernel supports zero-message opendirs.</summary>
    NoOpendirSupport = 1UL << 24,

    /// <summary>FUSE_EXPLICIT_INVAL_DATA: invalidate cached pages only on explicit request.</summary>
    ExplicitInvalidateData = 1UL << 25,

    /// <summary>FUSE_MAP_ALIGNMENT: <c>map_alignment</c> is valid (DAX).</summary>
    MapAlignment = 1UL << 26,

    /// <summary>FUSE_SUBMOUNTS: submounts.</summary>
    Submounts = 1UL << 27,

    /// <summary>FUSE_HANDLE_KILLPRIV_V2.</summary>
    HandleKillprivV2 = 1UL << 28,

    /// <summary>FUSE_SETXATTR_EXT: extended <c>fuse_setxattr_in</c>.</summary>
    SetxattrExtended = 1UL << 29,

    /// <summary>FUSE_INIT_EXT: <c>fuse_init_in/out</c> carry <c>flags2</c>.</summary>
    InitExtended = 1UL << 30,

    /// <summary>FUSE_INIT_RESERVED.</summary>
    InitReserved = 1UL << 31,

    /// <summary>FUSE_SECURITY_CTX: security contexts on create.</summary>
    SecurityContext = 1UL << 32,

    /// <summary>FUSE_HAS_INODE_DAX: per-inode DAX.</summary>
    HasInodeDax = 1UL << 33,

    /// <summary>FUSE_CREATE_SUPP_GROUP: supplementary group on create (7.38).</summary>
    CreateSupplementaryGroup = 1UL << 34,

    /// <summary>FUSE_HAS_EXPIRE_ONLY: expire-only entry invalidation.</summary>
    HasExpireOnly = 1UL << 35,

    /// <summary>FUSE_DIRECT_IO_ALLOW_MMAP: shared mmap of direct-I/O files (7.39).</summary>
    DirectIoAllowMmap = 1UL << 36,

    /// <summary>FUSE_PASSTHROUGH: read/write passthrough to a backing file (7.40).</summary>
    Passthrough = 1UL << 37,

    /// <summary>FUSE_NO_EXPORT_SUPPORT: explicitly no NFS export (7.40).</summary>
    NoExportSupport = 1UL << 38,

    /// <summary>
    /// FUSE_HAS_RESEND (7.40; announced from Linux 6.10): the kernel resends the requests in its processing queue on
    /// <see cref="FuseNotifyCode.Resend"/>, with <see cref="FuseProtocol.UniqueResend"/> set in their unique. Offered
    /// by the kernel, never asked for.
    /// </summary>
    HasResend = 1UL << 39,
}

/// <summary>Flags of an OPEN or OPENDIR reply (<c>FOPEN_*</c> in linux/fuse.h).</summary>
[Flags]
public enum FuseOpenFlags : uint
{
    /// <summary>No flags: the kernel drops cached pages of the file on open.</summary>
    None = 0,

    /// <summary>FOPEN_DIRECT_IO: bypass the page cache.</summary>
    DirectIo = 1 << 0,

    /// <summary>FOPEN_KEEP_CACHE: keep cached pages across opens (the content did not change).</summary>
    KeepCache = 1 << 1,

    /// <summary>FOPEN_NONSEEKABLE: the file is not seekable.</summary>
    NonSeekable = 1 << 2,

    /// <summary>FOPEN_CACHE_DIR: the kernel may cache directory entries (with <see cref="KeepCache"/>, across opens).</summary>
    CacheDir = 1 << 3,

    /// <summary>FOPEN_STREAM: the file is a stream without position.</summary>
    Stream = 1 << 4,

    /// <summary>FOPEN_NOFLUSH: do not flush on close.</summary>
    NoFlush = 1 << 5,
}
