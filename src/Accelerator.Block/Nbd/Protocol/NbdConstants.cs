namespace Accelerator.Block.Nbd.Protocol;

/// <summary>Magic numbers and fixed sizes of the NBD protocol (NetworkBlockDevice/nbd, doc/proto.md).</summary>
public static class NbdMagic
{
    /// <summary>The first 8 bytes a server sends: ASCII <c>NBDMAGIC</c>.</summary>
    public const ulong Init = 0x4e42444d41474943;

    /// <summary>Newstyle negotiation (ASCII <c>IHAVEOPT</c>): after <see cref="Init"/>, and before every client option.</summary>
    public const ulong Option = 0x49484156454F5054;

    /// <summary>The magic of every option reply of fixed newstyle negotiation.</summary>
    public const ulong OptionReply = 0x3e889045565a9;

    /// <summary>The magic of a transmission request (<c>NBD_REQUEST_MAGIC</c>).</summary>
    public const uint Request = 0x25609513;

    /// <summary>The magic of a simple reply (<c>NBD_SIMPLE_REPLY_MAGIC</c>).</summary>
    public const uint SimpleReply = 0x67446698;
}

/// <summary>Sizes and limits of the NBD protocol.</summary>
public static class NbdLimits
{
    /// <summary>The size of the server greeting: NBDMAGIC, IHAVEOPT and the 16-bit handshake flags.</summary>
    public const int GreetingSize = 18;

    /// <summary>The size of a client option header: magic, option, length.</summary>
    public const int OptionHeaderSize = 16;

    /// <summary>The size of an option reply header: magic, option, reply type, length.</summary>
    public const int OptionReplyHeaderSize = 20;

    /// <summary>The size of a request header: magic, flags, type, cookie, offset, length.</summary>
    public const int RequestSize = 28;

    /// <summary>The size of a simple reply header: magic, error, cookie.</summary>
    public const int SimpleReplySize = 16;

    /// <summary>The reply to <c>NBD_OPT_EXPORT_NAME</c>: size, transmission flags, then (without NO_ZEROES) 124 zero bytes.</summary>
    public const int ExportNameReplySize = 10;

    /// <summary>The zero padding after the export-name reply unless the client negotiated <c>NBD_FLAG_C_NO_ZEROES</c>.</summary>
    public const int ExportNamePadding = 124;

    /// <summary>The longest string (export name, description) the protocol allows: 4096 bytes ("Conventions").</summary>
    public const int MaxString = 4096;

    /// <summary>
    /// The largest payload a client may send or ask for without negotiated constraints, 2^25 bytes ("Size
    /// constraints"); also the maximum payload this server advertises.
    /// </summary>
    public const int MaxPayload = 32 * 1024 * 1024;
}

/// <summary>Handshake flags the server sends after NBDMAGIC/IHAVEOPT (16 bits).</summary>
[Flags]
public enum NbdHandshakeFlags : ushort
{
    /// <summary>No flags.</summary>
    None = 0,

    /// <summary>bit 0, <c>NBD_FLAG_FIXED_NEWSTYLE</c>.</summary>
    FixedNewstyle = 1 << 0,

    /// <summary>bit 1, <c>NBD_FLAG_NO_ZEROES</c>.</summary>
    NoZeroes = 1 << 1,
}

/// <summary>Client flags sent in reply to the greeting (32 bits).</summary>
[Flags]
public enum NbdClientFlags : uint
{
    /// <summary>No flags.</summary>
    None = 0,

    /// <summary>bit 0, <c>NBD_FLAG_C_FIXED_NEWSTYLE</c>.</summary>
    FixedNewstyle = 1 << 0,

    /// <summary>bit 1, <c>NBD_FLAG_C_NO_ZEROES</c>.</summary>
    NoZeroes = 1 << 1,
}

/// <summary>Transmission flags of an export (16 bits).</summary>
[Flags]
public enum NbdTransmissionFlags : ushort
{
    /// <summary>No flags (never sent: <see cref="HasFlags"/> is always set).</summary>
    None = 0,

    /// <summary>bit 0, <c>NBD_FLAG_HAS_FLAGS</c>: always 1.</summary>
    HasFlags = 1 << 0,

    /// <summary>bit 1, <c>NBD_FLAG_READ_ONLY</c>.</summary>
    ReadOnly = 1 << 1,

    /// <summary>bit 2, <c>NBD_FLAG_SEND_FLUSH</c>.</summary>
    SendFlush = 1 << 2,

    /// <summary>bit 3, <c>NBD_FLAG_SEND_FUA</c>.</summary>
    SendFua = 1 << 3,

    /// <summary>bit 4, <c>NBD_FLAG_ROTATIONAL</c>.</summary>
    Rotational = 1 << 4,

    /// <summary>bit 5, <c>NBD_FLAG_SEND_TRIM</c>.</summary>
    SendTrim = 1 << 5,

    /// <summary>bit 6, <c>NBD_FLAG_SEND_WRITE_ZEROES</c>.</summary>
    SendWriteZeroes = 1 << 6,

    /// <summary>bit 7, <c>NBD_FLAG_SEND_DF</c> (structured replies only).</summary>
    SendDf = 1 << 7,

    /// <summary>bit 8, <c>NBD_FLAG_CAN_MULTI_CONN</c>: flush and FUA are visible across connections.</summary>
    CanMultiConn = 1 << 8,

    /// <summary>bit 10, <c>NBD_FLAG_SEND_CACHE</c>.</summary>
    SendCache = 1 << 10,

    /// <summary>bit 11, <c>NBD_FLAG_SEND_FAST_ZERO</c>.</summary>
    SendFastZero = 1 << 11,
}

/// <summary>Options of the handshake phase (<c>NBD_OPT_*</c>).</summary>
public enum NbdOption : uint
{
    /// <summary><c>NBD_OPT_EXPORT_NAME</c> (1): choose an export and enter transmission; no error reply possible.</summary>
    ExportName = 1,

    /// <summary><c>NBD_OPT_ABORT</c> (2): soft disconnect.</summary>
    Abort = 2,

    /// <summary><c>NBD_OPT_LIST</c> (3): list the exports.</summary>
    List = 3,

    /// <summary><c>NBD_OPT_STARTTLS</c> (5).</summary>
    StartTls = 5,

    /// <summary><c>NBD_OPT_INFO</c> (6): describe an export.</summary>
    Info = 6,

    /// <summary><c>NBD_OPT_GO</c> (7): describe an export and enter transmission.</summary>
    Go = 7,

    /// <summary><c>NBD_OPT_STRUCTURED_REPLY</c> (8).</summary>
    StructuredReply = 8,

    /// <summary><c>NBD_OPT_LIST_META_CONTEXT</c> (9).</summary>
    ListMetaContext = 9,

    /// <summary><c>NBD_OPT_SET_META_CONTEXT</c> (10).</summary>
    SetMetaContext = 10,

    /// <summary><c>NBD_OPT_EXTENDED_HEADERS</c> (11).</summary>
    ExtendedHeaders = 11,
}

/// <summary>Option reply types (<c>NBD_REP_*</c>); errors have bit 31 set.</summary>
public enum NbdOptionReplyType : uint
{
    /// <summary><c>NBD_REP_ACK</c> (1).</summary>
    Ack = 1,

    /// <summary><c>NBD_REP_SERVER</c> (2): one export of a LIST.</summary>
    Server = 2,

    /// <summary><c>NBD_REP_INFO</c> (3): one item of INFO/GO.</summary>
    Info = 3,

    /// <summary><c>NBD_REP_ERR_UNSUP</c> (2^31 + 1).</summary>
    ErrorUnsupported = 0x8000_0001,

    /// <summary><c>NBD_REP_ERR_POLICY</c> (2^31 + 2).</summary>
    ErrorPolicy = 0x8000_0002,

    /// <summary><c>NBD_REP_ERR_INVALID</c> (2^31 + 3).</summary>
    ErrorInvalid = 0x8000_0003,

    /// <summary><c>NBD_REP_ERR_PLATFORM</c> (2^31 + 4).</summary>
    ErrorPlatform = 0x8000_0004,

    /// <summary><c>NBD_REP_ERR_TLS_REQD</c> (2^31 + 5).</summary>
    ErrorTlsRequired = 0x8000_0005,

    /// <summary><c>NBD_REP_ERR_UNKNOWN</c> (2^31 + 6): no such export.</summary>
    ErrorUnknown = 0x8000_0006,

    /// <summary><c>NBD_REP_ERR_SHUTDOWN</c> (2^31 + 7).</summary>
    ErrorShutdown = 0x8000_0007,

    /// <summary><c>NBD_REP_ERR_BLOCK_SIZE_REQD</c> (2^31 + 8).</summary>
    ErrorBlockSizeRequired = 0x8000_0008,

    /// <summary><c>NBD_REP_ERR_TOO_BIG</c> (2^31 + 9).</summary>
    ErrorTooBig = 0x8000_0009,
}

/// <summary>Information types of <c>NBD_REP_INFO</c> (<c>NBD_INFO_*</c>, 16 bits).</summary>
public enum NbdInfoType : ushort
{
    /// <summary><c>NBD_INFO_EXPORT</c> (0): size and transmission flags.</summary>
    Export = 0,

    /// <summary><c>NBD_INFO_NAME</c> (1).</summary>
    Name = 1,

    /// <summary><c>NBD_INFO_DESCRIPTION</c> (2).</summary>
    Description = 2,

    /// <summary><c>NBD_INFO_BLOCK_SIZE</c> (3): minimum, preferred and maximum payload sizes.</summary>
    BlockSize = 3,
}

/// <summary>Request types of the transmission phase (<c>NBD_CMD_*</c>, 16 bits).</summary>
public enum NbdCommand : ushort
{
    /// <summary><c>NBD_CMD_READ</c> (0).</summary>
    Read = 0,

    /// <summary><c>NBD_CMD_WRITE</c> (1): the payload follows the header.</summary>
    Write = 1,

    /// <summary><c>NBD_CMD_DISC</c> (2): soft disconnect, no reply.</summary>
    Disconnect = 2,

    /// <summary><c>NBD_CMD_FLUSH</c> (3): offset and length are zero.</summary>
    Flush = 3,

    /// <summary><c>NBD_CMD_TRIM</c> (4).</summary>
    Trim = 4,

    /// <summary><c>NBD_CMD_CACHE</c> (5).</summary>
    Cache = 5,

    /// <summary><c>NBD_CMD_WRITE_ZEROES</c> (6).</summary>
    WriteZeroes = 6,

    /// <summary><c>NBD_CMD_BLOCK_STATUS</c> (7).</summary>
    BlockStatus = 7,
}

/// <summary>Command flags of a request (16 bits).</summary>
[Flags]
public enum NbdCommandFlags : ushort
{
    /// <summary>No flags.</summary>
    None = 0,

    /// <summary>bit 0, <c>NBD_CMD_FLAG_FUA</c>: reply only once the command's writes are durable; valid on every command once <c>SEND_FUA</c> was advertised.</summary>
    Fua = 1 << 0,

    /// <summary>bit 1, <c>NBD_CMD_FLAG_NO_HOLE</c>: valid on WRITE_ZEROES.</summary>
    NoHole = 1 << 1,

    /// <summary>bit 2, <c>NBD_CMD_FLAG_DF</c>: READ with structured replies only.</summary>
    DontFragment = 1 << 2,

    /// <summary>bit 3, <c>NBD_CMD_FLAG_REQ_ONE</c>: BLOCK_STATUS only.</summary>
    RequestOne = 1 << 3,

    /// <summary>bit 4, <c>NBD_CMD_FLAG_FAST_ZERO</c>: WRITE_ZEROES once <c>SEND_FAST_ZERO</c> was advertised.</summary>
    FastZero = 1 << 4,
}

/// <summary>The error values of a reply ("Error values": errno-like, but fixed by the protocol).</summary>
public enum NbdError : uint
{
    /// <summary>Success.</summary>
    None = 0,

    /// <summary><c>NBD_EPERM</c> (1): write or trim on a read-only export.</summary>
    PermissionDenied = 1,

    /// <summary><c>NBD_EIO</c> (5): the backend failed.</summary>
    IO = 5,

    /// <summary><c>NBD_ENOMEM</c> (12).</summary>
    OutOfMemory = 12,

    /// <summary><c>NBD_EINVAL</c> (22): bad offset, length, flags or command.</summary>
    InvalidArgument = 22,

    /// <summary><c>NBD_ENOSPC</c> (28): a write beyond the end of the export.</summary>
    NoSpace = 28,

    /// <summary><c>NBD_EOVERFLOW</c> (75).</summary>
    Overflow = 75,

    /// <summary><c>NBD_ENOTSUP</c> (95).</summary>
    NotSupported = 95,

    /// <summary><c>NBD_ESHUTDOWN</c> (108): the server is shutting down.</summary>
    Shutdown = 108,
}
