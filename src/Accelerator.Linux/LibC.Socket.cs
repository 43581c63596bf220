using System.Runtime.InteropServices;

namespace Accelerator.Linux;

/// <summary>What <c>SO_PEERCRED</c> says about the process at the other end of a unix socket (when it connected).</summary>
/// <param name="ProcessId">Its pid.</param>
/// <param name="UserId">Its effective uid.</param>
/// <param name="GroupId">Its effective gid.</param>
public readonly record struct PeerCredentials(int ProcessId, uint UserId, uint GroupId);

public static unsafe partial class LibC
{
    // asm-generic/poll.h (x86-64 and arm64); the other POLL* constants are in LibC.Poll.cs.

    /// <summary><c>POLLOUT</c>: writing will not block.</summary>
    public const short POLLOUT = 0x004;

    // asm-generic/signal.h

    /// <summary><c>SIGKILL</c>.</summary>
    public const int SIGKILL = 9;

    /// <summary><c>SIGTERM</c>.</summary>
    public const int SIGTERM = 15;

    // asm-generic/socket.h (x86-64 and arm64; a few other architectures number SO_PEERCRED differently).
    private const int SOL_SOCKET = 1;
    private const int SO_PEERCRED = 17;

    // linux/socket.h
    private const int SCM_RIGHTS = 1;
    private const int MSG_CTRUNC = 0x08;
    private const int MSG_DONTWAIT = 0x40;
    private const int MSG_NOSIGNAL = 0x4000;
    private const int MSG_CMSG_CLOEXEC = 0x40000000;

    // linux/eventfd.h
    private const int EFD_CLOEXEC = 0x80000;
    private const int EFD_NONBLOCK = 0x800;

    /// <summary>The most descriptors one message may carry (the kernel's own limit, SCM_MAX_FD, is 253).</summary>
    public const int MaxDescriptorsPerMessage = 16;

    // struct msghdr (sys/socket.h), 64-bit layout.
    [StructLayout(LayoutKind.Sequential)]
    private struct MessageHeader
    {
        public void* Name;
        public uint NameLength;
        public IoVector* Vectors;
        public nuint VectorCount;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    // struct cmsghdr: size_t cmsg_len; int cmsg_level; int cmsg_type; then the data, aligned to size_t.
    private static int ControlHeaderSize => Align(sizeof(nuint) + (2 * sizeof(int)));

    private static int Align(int length) => (length + sizeof(nuint) - 1) & ~(sizeof(nuint) - 1);

    private static int ControlSpace(int descriptors) => ControlHeaderSize + Align(descriptors * sizeof(int));

    [LibraryImport(Library, EntryPoint = "sendmsg", SetLastError = true)]
    private static partial nint SendMessageNative(int fd, MessageHeader* message, int flags);

    [LibraryImport(Library, EntryPoint = "recvmsg", SetLastError = true)]
    private static partial nint ReceiveMessageNative(int fd, MessageHeader* message, int flags);

    [LibraryImport(Library, EntryPoint = "getsockopt", SetLastError = true)]
    private static partial int GetSocketOptionNative(int fd, int level, int name, void* value, uint* length);

    [LibraryImport(Library, EntryPoint = "kill", SetLastError = true)]
    private static partial int KillNative(int pid, int signal);

    [LibraryImport(Library, EntryPoint = "eventfd", SetLastError = true)]
    private static partial int EventFdNative(uint initial, int flags);

    /// <summary>kill(2): sends <paramref name="signal"/> to <paramref name="pid"/>; 0, or errno (ESRCH: no such process).</summary>
    public static int Kill(int pid, int signal) => KillNative(pid, signal) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>
    /// eventfd(2), non-blocking and close-on-exec: a counter another thread writes (8 bytes) to wake a <see cref="Poll"/>.
    /// </summary>
    /// <exception cref="IOException">eventfd failed.</exception>
    public static Microsoft.Win32.SafeHandles.SafeFileHandle EventFd(uint initialValue = 0)
    {
        int fd = EventFdNative(initialValue, EFD_CLOEXEC | EFD_NONBLOCK);
        Check(fd, "eventfd", "eventfd");
        return new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary><c>SO_PEERCRED</c> of a connected unix socket: the peer's pid, uid and gid when it connected.</summary>
    /// <exception cref="IOException">getsockopt failed (not a unix socket).</exception>
    public static PeerCredentials GetPeerCredentials(SafeHandle socket)
    {
        bool added = false;
        try
        {
            socket.DangerousAddRef(ref added);
            // struct ucred { pid_t pid; uid_t uid; gid_t gid; } (linux/socket.h)
            int* credentials = stackalloc int[3];
            uint length = 12;
            Check(GetSocketOptionNative((int)socket.DangerousGetHandle(), SOL_SOCKET, SO_PEERCRED, credentials, &length), "getsockopt(SO_PEERCRED)", "socket");
            return new PeerCredentials(credentials[0], (uint)credentials[1], (uint)credentials[2]);
        }
        finally
        {
            if (added)
            {
                socket.DangerousRelease();
            }
        }
    }

    /// <summary>
    /// sendmsg(2) of <paramref name="data"/> with <paramref name="descriptors"/> attached (<c>SCM_RIGHTS</c>), without
    /// waiting (<c>MSG_DONTWAIT</c>) and without SIGPIPE. The receiver gets copies of the descriptors with the first
    /// byte that arrives of <paramref name="data"/>.
    /// </summary>
    /// <returns>The bytes sent (possibly fewer than given; the descriptors went with them), or -errno (EAGAIN: full).</returns>
    public static int SendWithDescriptors(SafeHandle socket, ReadOnlySpan<byte> data, ReadOnlySpan<int> descriptors)
    {
        if (descriptors.Length > MaxDescriptorsPerMessage)
        {
            throw new ArgumentOutOfRangeException(nameof(descriptors), $"At most {MaxDescriptorsPerMessage} descriptors per message.");
        }

        int controlLength = descriptors.IsEmpty ? 0 : ControlSpace(descriptors.Length);
        byte* control = stackalloc byte[ControlSpace(MaxDescriptorsPerMessage)];
        new Span<byte>(control, controlLength).Clear();
        if (!descriptors.IsEmpty)
        {
            *(nuint*)control = (nuint)(ControlHeaderSize + (descriptors.Length * sizeof(int)));
            *(int*)(control + sizeof(nuint)) = SOL_SOCKET;
            *(int*)(control + sizeof(nuint) + sizeof(int)) = SCM_RIGHTS;
            descriptors.CopyTo(new Span<int>(control + ControlHeaderSize, descriptors.Length));
        }

        bool added = false;
        try
        {
            socket.DangerousAddRef(ref added);
            fixed (byte* p = data)
            {
                var vector = new IoVector { Base = p, Length = (nuint)data.Length };
                var message = new MessageHeader
                {
                    Vectors = &vector,
                    VectorCount = 1,
                    Control = controlLength == 0 ? null : control,
                    ControlLength = (nuint)controlLength,
                };
                nint n = SendMessageNative((int)socket.DangerousGetHandle(), &message, MSG_DONTWAIT | MSG_NOSIGNAL);
                return n >= 0 ? (int)n : -Marshal.GetLastPInvokeError();
            }
        }
        finally
        {
            if (added)
            {
                socket.DangerousRelease();
            }
        }
    }

    /// <summary>
    /// recvmsg(2) into <paramref name="buffer"/> without waiting (<c>MSG_DONTWAIT</c>), taking the descriptors that
    /// come with the data (<c>SCM_RIGHTS</c>, received close-on-exec). At most <paramref name="descriptors"/>' length
    /// are kept; any others that arrived are closed here, as are all of them when the kernel had to cut the control
    /// data (<c>MSG_CTRUNC</c>), which <paramref name="discarded"/> then counts.
    /// </summary>
    /// <param name="socket">A connected unix socket.</param>
    /// <param name="buffer">Where the data goes.</param>
    /// <param name="descriptors">Where the descriptors kept go (the caller owns them).</param>
    /// <param name="received">How many of <paramref name="descriptors"/> were filled.</param>
    /// <param name="discarded">How many descriptors arrived and were closed here (beyond the bound, or cut short).</param>
    /// <returns>The bytes received (0: the peer closed), or -errno (EAGAIN: nothing yet).</returns>
    public static int ReceiveWithDescriptors(SafeHandle socket, Span<byte> buffer, Span<int> descriptors, out int received, out int discarded)
    {
        received = 0;
        discarded = 0;

        // Room for more than the caller keeps, so that extra descriptors arrive (and are closed) instead of being cut.
        int space = ControlSpace(MaxDescriptorsPerMessage);
        byte* control = stackalloc byte[space];
        new Span<byte>(control, space).Clear();
        bool added = false;
        try
        {
            socket.DangerousAddRef(ref added);
            nint n;
            int flags;
            fixed (byte* p = buffer)
            {
                var vector = new IoVector { Base = p, Length = (nuint)buffer.Length };
                var message = new MessageHeader { Vectors = &vector, VectorCount = 1, Control = control, ControlLength = (nuint)space };
                n = ReceiveMessageNative((int)socket.DangerousGetHandle(), &message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
                if (n < 0)
                {
                    return -Marshal.GetLastPInvokeError();
                }

                flags = message.Flags;
                space = (int)message.ControlLength;
            }

            bool truncated = (flags & MSG_CTRUNC) != 0;
            for (int offset = 0; offset + ControlHeaderSize <= space;)
            {
                int length = (int)*(nuint*)(control + offset);
                if (length < ControlHeaderSize || offset + length > space)
                {
                    break;
                }

                int level = *(int*)(control + offset + sizeof(nuint));
                int type = *(int*)(control + offset + sizeof(nuint) + sizeof(int));
                if (level == SOL_SOCKET && type == SCM_RIGHTS)
                {
                    int count = (length - ControlHeaderSize) / sizeof(int);
                    int* fds = (int*)(control + offset + ControlHeaderSize);
                    for (int i = 0; i < count; i++)
                    {
                        if (!truncated && received < descriptors.Length)
                        {
                            descriptors[received++] = fds[i];
                        }
                        else
                        {
                            Close(fds[i]);
                            discarded++;
                        }
                    }
                }

                offset += Align(length);
            }

            if (truncated)
            {
                // The kernel dropped what did not fit; what did fit is closed too: a cut message is never half-trusted.
                for (int i = 0; i < received; i++)
                {
                    Close(descriptors[i]);
                }

                discarded += received + 1;
                received = 0;
            }

            return (int)n;
        }
        finally
        {
            if (added)
            {
                socket.DangerousRelease();
            }
        }
    }
}
