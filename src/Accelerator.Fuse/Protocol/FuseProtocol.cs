namespace Accelerator.Fuse.Protocol;

/// <summary>Constants of the FUSE kernel protocol (linux/fuse.h).</summary>
public static class FuseProtocol
{
    /// <summary>The major version of the protocol (FUSE_KERNEL_VERSION); kernels and servers must agree on it.</summary>
    public const uint KernelVersion = 7;

    /// <summary>
    /// The highest minor version this implementation speaks (FUSE_KERNEL_MINOR_VERSION of the header it was written
    /// against, Linux 6.1's 7.38). A newer kernel speaks the older minor with us; an older kernel's minor is used.
    /// </summary>
    public const uint MinorVersion = 38;

    /// <summary>The node id of the root directory (FUSE_ROOT_ID).</summary>
    public const ulong RootNodeId = 1;

    /// <summary>The smallest read buffer the kernel accepts for a request (FUSE_MIN_READ_BUFFER).</summary>
    public const int MinReadBuffer = 8192;

    /// <summary>The size of <c>struct fuse_in_header</c>.</summary>
    public const int InHeaderSize = 40;

    /// <summary>The size of <c>struct fuse_out_header</c>.</summary>
    public const int OutHeaderSize = 16;

    /// <summary>The size of <c>fuse_entry_out</c> before 7.9 (FUSE_COMPAT_ENTRY_OUT_SIZE).</summary>
    public const int CompatEntryOutSize = 120;

    /// <summary>The size of <c>fuse_attr_out</c> before 7.9 (FUSE_COMPAT_ATTR_OUT_SIZE).</summary>
    public const int CompatAttrOutSize = 96;

    /// <summary>The size of <c>fuse_statfs_out</c> before 7.4 (FUSE_COMPAT_STATFS_SIZE).</summary>
    public const int CompatStatfsSize = 48;

    /// <summary>The size of <c>fuse_init_out</c> before 7.5 (FUSE_COMPAT_INIT_OUT_SIZE).</summary>
    public const int CompatInitOutSize = 8;

    /// <summary>The size of <c>fuse_init_out</c> from 7.5 to 7.22 (FUSE_COMPAT_22_INIT_OUT_SIZE).</summary>
    public const int Compat22InitOutSize = 24;

    /// <summary>The size of <c>fuse_init_in</c> before 7.36 (no <c>flags2</c> and padding).</summary>
    public const int CompatInitInSize = 16;

    /// <summary>The size of <c>fuse_read_in</c> before 7.9 (no <c>lock_owner</c> and <c>flags</c>).</summary>
    public const int CompatReadInSize = 24;

    /// <summary>The offset of the name in <c>struct fuse_dirent</c> (FUSE_NAME_OFFSET).</summary>
    public const int DirentNameOffset = 24;

    /// <summary>The offset of the name in <c>struct fuse_direntplus</c> (FUSE_NAME_OFFSET_DIRENTPLUS).</summary>
    public const int DirentPlusNameOffset = 128 + 24;

    /// <summary>The longest name a directory entry or lookup carries (NAME_MAX).</summary>
    public const int MaxNameLength = 255;

    /// <summary>
    /// The bit the kernel sets in the <c>unique</c> of an INTERRUPT request (FUSE_INT_REQ_BIT); ordinary uniques are
    /// even (FUSE_REQ_ID_STEP is 2).
    /// </summary>
    public const ulong InterruptUniqueBit = 1;

    /// <summary>
    /// The bit the kernel sets in the <c>unique</c> of a request it sends again after <see cref="FuseNotifyCode.Resend"/>
    /// (FUSE_UNIQUE_RESEND, 7.40). The reply echoes the unique unchanged, bit included; an INTERRUPT of a resent request
    /// names the unique with the bit.
    /// </summary>
    public const ulong UniqueResend = 1UL << 63;

    /// <summary>The <c>unique</c> of a notification (fuse_out_header of a message the server sends unasked).</summary>
    public const ulong NotificationUnique = 0;

    /// <summary>The kernel's page size assumed for <c>max_pages</c> (4 KiB on x86_64 and most arm64 kernels).</summary>
    public const int PageSize = 4096;

    /// <summary>Rounds a directory record length up to 8 bytes (FUSE_DIRENT_ALIGN).</summary>
    public static int DirentAlign(int length) => (length + 7) & ~7;
}
