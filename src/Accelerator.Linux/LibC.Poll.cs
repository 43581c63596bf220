using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Accelerator.Linux;

/// <summary>One descriptor of a <see cref="LibC.Poll"/> call (<c>struct pollfd</c>, poll.h).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct PollDescriptor
{
    /// <summary>The descriptor; a negative one is ignored.</summary>
    public int Fd;

    /// <summary>The events asked for (<see cref="LibC.POLLIN"/>…).</summary>
    public short Events;

    /// <summary>The events that happened, set by poll(2) (<see cref="LibC.POLLERR"/> and <see cref="LibC.POLLHUP"/> always count).</summary>
    public short ReturnedEvents;
}

public static unsafe partial class LibC
{
    // asm-generic/poll.h (the same on x86-64 and arm64).

    /// <summary><c>POLLIN</c>: there is data to read.</summary>
    public const short POLLIN = 0x001;

    /// <summary><c>POLLERR</c>: an error condition (for <c>/dev/fuse</c>: the connection ended or was aborted).</summary>
    public const short POLLERR = 0x008;

    /// <summary><c>POLLHUP</c>: hung up.</summary>
    public const short POLLHUP = 0x010;

    /// <summary><c>POLLNVAL</c>: the descriptor is not open.</summary>
    public const short POLLNVAL = 0x020;

    /// <summary><c>F_DUPFD_CLOEXEC</c> for fcntl(2) (linux/fcntl.h).</summary>
    public const int F_DUPFD_CLOEXEC = 1030;

    [LibraryImport(Library, EntryPoint = "poll", SetLastError = true)]
    private static partial int PollNative(PollDescriptor* descriptors, nuint count, int timeout);

    [LibraryImport(Library, EntryPoint = "fcntl", SetLastError = true)]
    private static partial int FcntlIntNative(int fd, int command, int argument);

    [LibraryImport(Library, EntryPoint = "statfs", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int StatfsNative(string path, byte* buffer);

    /// <summary>
    /// statfs(2) of <paramref name="path"/>, the result discarded: 0 or errno. On a FUSE mount it is always a request
    /// to the server (never cached), answered before it returns.
    /// </summary>
    public static int StatFs(string path)
    {
        // struct statfs is 120 bytes on x86-64 and arm64; room to spare.
        byte* buffer = stackalloc byte[256];
        return StatfsNative(path, buffer) == 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    /// <summary>poll(2): waits up to <paramref name="timeoutMilliseconds"/> (-1: forever) for an event on <paramref name="descriptors"/>; the count of descriptors with events, or -errno.</summary>
    public static int Poll(Span<PollDescriptor> descriptors, int timeoutMilliseconds)
    {
        fixed (PollDescriptor* p = descriptors)
        {
            int n = PollNative(p, (nuint)descriptors.Length, timeoutMilliseconds);
            return n >= 0 ? n : -Marshal.GetLastPInvokeError();
        }
    }

    /// <summary>
    /// A new descriptor of the same open file description as <paramref name="file"/> (fcntl F_DUPFD_CLOEXEC): file status
    /// flags and, for <c>/dev/fuse</c>, the FUSE connection are shared; closing one leaves the other open.
    /// </summary>
    /// <exception cref="IOException">fcntl failed (descriptor limit).</exception>
    public static SafeFileHandle Duplicate(SafeFileHandle file)
    {
        ArgumentNullException.ThrowIfNull(file);
        bool added = false;
        try
        {
            file.DangerousAddRef(ref added);
            int fd = FcntlIntNative((int)file.DangerousGetHandle(), F_DUPFD_CLOEXEC, 0);
            if (fd < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                throw new IOException($"Cannot duplicate descriptor {file.DangerousGetHandle()}: {Message(errno)}.", errno);
            }

            return new SafeFileHandle(fd, ownsHandle: true);
        }
        finally
        {
            if (added)
            {
                file.DangerousRelease();
            }
        }
    }
}
