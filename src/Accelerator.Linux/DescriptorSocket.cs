using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Accelerator.Linux;

/// <summary>
/// A connected unix stream <see cref="Socket"/> that passes open descriptors (<c>SCM_RIGHTS</c>) along with its bytes.
/// Every read goes through recvmsg(2) with room for descriptors: a plain read(2) would make the kernel drop (close) the
/// descriptors that came with the bytes it read. Calls block the calling thread (poll(2) on the socket);
/// <see cref="Dispose"/> from another thread wakes them (end of stream).
/// </summary>
/// <remarks>
/// Use only this type's methods on the socket once wrapped. One thread may send while another receives; two threads
/// must not send (or receive) at once.
/// </remarks>
public sealed class DescriptorSocket : IDisposable
{
    // asm-generic/errno.h
    private const int ECONNRESET = 104;

    private readonly Socket _socket;
    private int _disposed;

    /// <summary>Wraps <paramref name="socket"/>, a connected <see cref="AddressFamily.Unix"/> stream socket, which this object now owns.</summary>
    /// <exception cref="ArgumentException">Not a connected unix stream socket.</exception>
    public DescriptorSocket(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        if (socket.AddressFamily != AddressFamily.Unix || socket.SocketType != SocketType.Stream)
        {
            throw new ArgumentException("Descriptors pass only over a unix stream socket.", nameof(socket));
        }

        _socket = socket;
        Peer = LibC.GetPeerCredentials(socket.SafeHandle);
    }

    /// <summary>Who is at the other end (<c>SO_PEERCRED</c>: the process that connected, or that listened).</summary>
    public PeerCredentials Peer { get; }

    /// <summary>Connects to the unix socket at <paramref name="path"/>.</summary>
    /// <exception cref="SocketException">Nothing listens there (ENOENT, ECONNREFUSED) or it may not be reached.</exception>
    public static DescriptorSocket Connect(string path)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(path));
            return new DescriptorSocket(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Sends all of <paramref name="data"/>, with copies of <paramref name="descriptors"/> attached to its first byte
    /// (at most <see cref="LibC.MaxDescriptorsPerMessage"/>).
    /// </summary>
    /// <exception cref="IOException">The peer is gone, or the socket was disposed.</exception>
    public void Send(ReadOnlySpan<byte> data, ReadOnlySpan<SafeHandle> descriptors = default)
    {
        Span<int> fds = stackalloc int[descriptors.Length];
        var added = new bool[descriptors.Length];
        try
        {
            for (int i = 0; i < descriptors.Length; i++)
            {
                descriptors[i].DangerousAddRef(ref added[i]);
                fds[i] = (int)descriptors[i].DangerousGetHandle();
            }

            bool first = true;
            while (!data.IsEmpty || first)
            {
                int n = LibC.SendWithDescriptors(_socket.SafeHandle, data, first ? fds : default);
                if (n == -Errno.EAGAIN)
                {
                    Wait(LibC.POLLOUT);
                    continue;
                }

                if (n == -Errno.EINTR)
                {
                    continue;
                }

                if (n < 0)
                {
                    throw new IOException($"Sending on the unix socket failed: {LibC.Message(-n)}.", -n);
                }

                first = false;
                data = data[n..];
            }
        }
        catch (ObjectDisposedException ex)
        {
            throw new IOException("The socket is closed.", ex);
        }
        finally
        {
            for (int i = 0; i < descriptors.Length; i++)
            {
                if (added[i])
                {
                    descriptors[i].DangerousRelease();
                }
            }
        }
    }

    /// <summary>
    /// Receives what is there (waiting until something is) into <paramref name="buffer"/>; descriptors that came with
    /// it are added to <paramref name="descriptors"/> (close-on-exec; the caller owns them) up to
    /// <paramref name="maxDescriptors"/> in that list, and closed beyond.
    /// </summary>
    /// <returns>The bytes received; 0 when the peer closed or reset the connection (or this socket was disposed).</returns>
    /// <param name="buffer">Where the bytes go.</param>
    /// <param name="descriptors">Where the descriptors received go.</param>
    /// <param name="maxDescriptors">How many the list may hold in all; more are closed and counted in <paramref name="discarded"/>.</param>
    /// <param name="discarded">Descriptors that arrived and were closed here.</param>
    /// <exception cref="IOException">The socket failed.</exception>
    public int Receive(Span<byte> buffer, List<SafeFileHandle> descriptors, int maxDescriptors, out int discarded)
    {
        ArgumentNullException.ThrowIfNull(descriptors);
        Span<int> fds = stackalloc int[LibC.MaxDescriptorsPerMessage];
        discarded = 0;
        try
        {
            while (true)
            {
                int room = Math.Clamp(maxDescriptors - descriptors.Count, 0, LibC.MaxDescriptorsPerMessage);
                int n = LibC.ReceiveWithDescriptors(_socket.SafeHandle, buffer, fds[..room], out int received, out int dropped);
                discarded += dropped;
                for (int i = 0; i < received; i++)
                {
                    descriptors.Add(new SafeFileHandle(fds[i], ownsHandle: true));
                }

                if (n == -Errno.EAGAIN)
                {
                    if (Volatile.Read(ref _disposed) != 0 || !Wait(LibC.POLLIN))
                    {
                        return 0;
                    }

                    continue;
                }

                if (n == -Errno.EINTR)
                {
                    continue;
                }

                if (n == -ECONNRESET)
                {
                    // The peer closed with bytes of ours unread: for a reader, the end of the stream (what the peer
                    // sent before is read first).
                    return 0;
                }

                if (n < 0)
                {
                    throw new IOException($"Receiving on the unix socket failed: {LibC.Message(-n)}.", -n);
                }

                return n;
            }
        }
        catch (ObjectDisposedException)
        {
            return 0;
        }
    }

    /// <summary>Fills <paramref name="buffer"/> whole (see <see cref="Receive"/>); false when the peer closed first (at any byte).</summary>
    /// <exception cref="IOException">The socket failed.</exception>
    public bool ReceiveExactly(Span<byte> buffer, List<SafeFileHandle> descriptors, int maxDescriptors, out int discarded)
    {
        discarded = 0;
        while (!buffer.IsEmpty)
        {
            int n = Receive(buffer, descriptors, maxDescriptors, out int dropped);
            discarded += dropped;
            if (n == 0)
            {
                return false;
            }

            buffer = buffer[n..];
        }

        return true;
    }

    /// <summary>Shuts down the sending direction: the peer reads the end of the stream after what was sent.</summary>
    public void ShutdownSend()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            throw new IOException("The socket is closed.", ex);
        }
    }

    /// <summary>Shuts the socket down both ways (waking a thread blocked in <see cref="Receive"/>) and closes it.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
            // Not connected any more: nothing to wake.
        }

        _socket.Dispose();
    }

    // Waits until the socket is ready for `events`, or hung up / failed (the next call then says what happened).
    private bool Wait(short events)
    {
        bool added = false;
        var handle = _socket.SafeHandle;
        try
        {
            handle.DangerousAddRef(ref added);
            Span<PollDescriptor> poll = [new PollDescriptor { Fd = (int)handle.DangerousGetHandle(), Events = events }];
            while (true)
            {
                int n = LibC.Poll(poll, -1);
                if (n == -Errno.EINTR)
                {
                    continue;
                }

                return n >= 0;
            }
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }
}
