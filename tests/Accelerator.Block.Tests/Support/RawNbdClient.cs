using System.Buffers.Binary;
using System.Net.Sockets;
using Accelerator.Block.Nbd.Protocol;

namespace Accelerator.Block.Tests.Support;

/// <summary>
/// A bare NBD client on the protocol layer, for what real clients will not send: pipelines of our choosing, garbage,
/// silence, oversize payloads.
/// </summary>
internal sealed class RawNbdClient : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;

    private RawNbdClient(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
    }

    public NetworkStream Stream => _stream;

    public static async Task<RawNbdClient> ConnectAsync(string socketPath)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath));
        return new RawNbdClient(socket);
    }

    /// <summary>Reads the greeting and answers with <paramref name="flags"/>.</summary>
    public async Task<NbdHandshakeFlags> GreetAsync(NbdClientFlags flags = NbdClientFlags.FixedNewstyle | NbdClientFlags.NoZeroes)
    {
        byte[] greeting = await ReadAsync(NbdLimits.GreetingSize);
        Assert.True(NbdHandshake.TryReadGreeting(greeting, out var serverFlags));
        byte[] reply = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(reply, (uint)flags);
        await _stream.WriteAsync(reply);
        return serverFlags;
    }

    public async Task SendOptionAsync(NbdOption option, byte[] data)
    {
        byte[] message = new byte[NbdLimits.OptionHeaderSize + data.Length];
        new NbdOptionHeader(option, (uint)data.Length).Write(message);
        data.CopyTo(message, NbdLimits.OptionHeaderSize);
        await _stream.WriteAsync(message);
    }

    public async Task<(NbdOptionReplyHeader Header, byte[] Data)> ReadOptionReplyAsync()
    {
        Assert.True(NbdOptionReplyHeader.TryRead(await ReadAsync(NbdLimits.OptionReplyHeaderSize), out var header));
        return (header, await ReadAsync((int)header.Length));
    }

    /// <summary>NBD_OPT_GO for <paramref name="name"/>; returns the size and flags of NBD_INFO_EXPORT.</summary>
    public async Task<(ulong Size, NbdTransmissionFlags Flags)> GoAsync(string name)
    {
        var request = new NbdInfoRequest(name, [NbdInfoType.BlockSize]);
        byte[] data = new byte[request.Length];
        request.Write(data);
        await SendOptionAsync(NbdOption.Go, data);
        (ulong, NbdTransmissionFlags)? export = null;
        while (true)
        {
            var (header, payload) = await ReadOptionReplyAsync();
            Assert.False(header.IsError, $"GO answered {header.Type}");
            if (header.Type == NbdOptionReplyType.Ack)
            {
                return export ?? throw new InvalidOperationException("GO succeeded without NBD_INFO_EXPORT.");
            }

            if (BinaryPrimitives.ReadUInt16BigEndian(payload) == (ushort)NbdInfoType.Export)
            {
                export = (BinaryPrimitives.ReadUInt64BigEndian(payload.AsSpan(2)), (NbdTransmissionFlags)BinaryPrimitives.ReadUInt16BigEndian(payload.AsSpan(10)));
            }
        }
    }

    public async Task SendRequestAsync(NbdRequest request, byte[]? payload = null)
    {
        byte[] message = new byte[NbdLimits.RequestSize + (payload?.Length ?? 0)];
        request.Write(message);
        payload?.CopyTo(message, NbdLimits.RequestSize);
        await _stream.WriteAsync(message);
    }

    public async Task<NbdSimpleReply> ReadReplyAsync()
    {
        Assert.True(NbdSimpleReply.TryRead(await ReadAsync(NbdLimits.SimpleReplySize), out var reply));
        return reply;
    }

    public async Task<byte[]> ReadAsync(int length)
    {
        byte[] buffer = new byte[length];
        await _stream.ReadExactlyAsync(buffer);
        return buffer;
    }

    /// <summary>Whether the server closed the connection (a read returns end of stream) within a minute.</summary>
    public async Task<bool> ClosedByServerAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        byte[] buffer = new byte[4096];
        try
        {
            while (true)
            {
                int n = await _stream.ReadAsync(buffer, timeout.Token);
                if (n == 0)
                {
                    return true;
                }
            }
        }
        catch (IOException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _socket.Dispose();
    }
}
