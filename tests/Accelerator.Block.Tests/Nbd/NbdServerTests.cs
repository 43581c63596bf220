using System.Buffers.Binary;
using Accelerator.Block.Disks;
using Accelerator.Block.Nbd;
using Accelerator.Block.Nbd.Protocol;
using Accelerator.Block.Tests.Support;
using Accelerator.Testing.Fuzzing;
using Microsoft.Extensions.Time.Testing;

namespace Accelerator.Block.Tests.Nbd;

/// <summary>The server against a bare client: pipelines, the old export-name option, limits, garbage and shutdown.</summary>
public sealed class NbdServerTests : IAsyncLifetime
{
    private readonly TempDirectory _directory = new();
    private string _image = string.Empty;
    private FileVirtualDisk _disk = null!;

    private string SocketPath => _directory.Combine("s.sock");

    public Task InitializeAsync()
    {
        _image = RawImages.CreateRandom(_directory.Combine("d.img"), 4 * 1024 * 1024, seed: 3);
        _disk = FileVirtualDisk.Open(_image);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _disk.DisposeAsync();
        _directory.Dispose();
    }

    [Fact]
    public async Task Transmission_ManyReadsSentBeforeAnyReply_EveryCookieAnsweredWithItsBytes()
    {
        await using var server = await StartAsync();
        await using var client = await RawNbdClient.ConnectAsync(SocketPath);
        await client.GreetAsync();
        await client.GoAsync("d");
        byte[] image = File.ReadAllBytes(_image);
        var random = new Random(5);
        var expected = new Dictionary<ulong, (int Offset, int Length)>();
        for (ulong cookie = 1; cookie <= 64; cookie++)
        {
            int length = random.Next(1, 64) * 512;
            int offset = random.Next((image.Length - length) / 512) * 512;
            expected[cookie] = (offset, length);
            await client.SendRequestAsync(new NbdRequest(NbdCommandFlags.None, NbdCommand.Read, cookie, (ulong)offset, (uint)length));
        }

        for (int i = 0; i < 64; i++)
        {
            var reply = await client.ReadReplyAsync();
            Assert.Equal(NbdError.None, reply.Error);
            Assert.True(expected.Remove(reply.Cookie, out var range), $"cookie {reply.Cookie} answered twice or never asked");
            byte[] data = await client.ReadAsync(range.Length);
            Assert.True(image.AsSpan(range.Offset, range.Length).SequenceEqual(data));
        }

        Assert.Empty(expected);
        await client.SendRequestAsync(new NbdRequest(NbdCommandFlags.None, NbdCommand.Disconnect, 0, 0, 0));
        Assert.True(await client.ClosedByServerAsync());
    }

    [Fact]
    public async Task Transmission_MoreLargeReadsThanThePayloadBudget_AllAnsweredInTurn()
    {
        await using var server = await StartAsync(new NbdServerOptions { MaxPayloadBytesInFlight = 32 * 1024 * 1024, MaxRequestsInFlight = 64 });
        await using var client = await RawNbdClient.ConnectAsync(SocketPath);
        await client.GreetAsync();
        await client.GoAsync("d");
        byte[] image = File.ReadAllBytes(_image);
        const int length = 3 * 1024 * 1024;

        // 24 reads of 3 MiB need 72 MiB of buffers; the budget holds 32 MiB, so the server reads them in turn.
        for (ulong cookie = 1; cookie <= 24; cookie++)
        {
            await client.SendRequestAsync(new NbdRequest(NbdCommandFlags.None, NbdCommand.Read, cookie, cookie * 4096, length));
        }

        var answered = new HashSet<ulong>();
        for (int i = 0; i < 24; i++)
        {
            var reply = await client.ReadReplyAsync();
            Assert.Equal(NbdError.None, reply.Error);
            Assert.True(answered.Add(reply.Cookie));
            byte[] data = await client.ReadAsync(length);
            Assert.True(image.AsSpan((int)reply.Cookie * 4096, length).SequenceEqual(data));
        }
    }

    [Fact]
    public async Task ExportName_KnownName_EntersTransmissionWithoutPadding()
    {
        await using var server = await StartAsync();
        await using var client = await RawNbdClient.ConnectAsync(SocketPath);
        var flags = await client.GreetAsync();
        Assert.Equal(NbdHandshakeFlags.FixedNewstyle | NbdHandshakeFlags.NoZeroes, flags);

        await client.SendOptionAsync(NbdOption.ExportName, "d"u8.ToArray());
        byte[] reply = await client.ReadAsync(NbdLimits.ExportNameReplySize);
        Assert.Equal((ulong)_disk.Size, BinaryPrimitives.ReadUInt64BigEndian(reply));
        var transmission = (NbdTransmissionFlags)BinaryPrimitives.ReadUInt16BigEndian(reply.AsSpan(8));
        Assert.True(transmission.HasFlag(NbdTransmissionFlags.HasFlags | NbdTransmissionFlags.ReadOnly));

        await client.SendRequestAsync(new NbdRequest(NbdCommandFlags.None, NbdCommand.Read, 7, 0, 512));
        Assert.Equal(new NbdSimpleReply(NbdError.None, 7), await client.ReadReplyAsync());
        Assert.Equal(File.ReadAllBytes(_image).AsSpan(0, 512).ToArray(), await client.ReadAsync(512));
    }

    [Fact]
    public async Task ExportName_WithoutNoZeroes_Sends124ZeroBytes()
    {
        await using var server = await StartAsync();
        await using var client = await RawNbdClient.ConnectAsync(SocketPath);
        await client.GreetAsync(NbdClientFlags.FixedNewstyle);

        await client.SendOptionAsync(NbdOption.ExportName, "d"u8.ToArray());
        byte[] reply = await client.ReadAsync(NbdLimits.ExportNameReplySize + NbdLimits.ExportNamePadding);
        Assert.True(reply.AsSpan(NbdLimits.ExportNameReplySize).IndexOfAnyExcept((byte)0) < 0);
    }

    [Fact]
    public async Task ExportName_UnknownName_ServerTerminatesSession()
    {
        await using var server = await StartAsync();
        await using var client = await RawNbdClient.ConnectAsync(SocketPath);
        await client.GreetAsync();

        await client.SendOptionAsync(NbdOption.ExportName, "nope"u8.ToArray());

        Assert.True(await client.ClosedByServerAsync());
    }

    [Fact]
    public async Task Options_UnknownStructuredAndBadGo_GetErrorRepliesAndNegotiationGoesOn()
    {
        await using var server = await StartAsync();
        await using var client = await RawNbdClient.ConnectAsync(SocketPath);
        await client.GreetAsync();

        await client.SendOptionAsync((NbdOption)0x4242, [1, 2, 3]);
        Assert.Equal(NbdOptionReplyType.ErrorUnsupported, (await client.ReadOptionReplyAsync()).Header.Type);
        await client.SendOptionAsync(NbdOption.StructuredReply, []);
        Assert.Equal(NbdOptionReplyType.ErrorUnsupported, (await client.ReadOptionReplyAsync()).Header.Type);
        await client.SendOptionAsync(NbdOption.Go, [0, 0, 0, 9, 0, 0]);
        Assert.Equal(NbdOptionReplyType.ErrorInvalid, (await client.ReadOptionReplyAsync()).Header.Type);
        await client.SendOptionAsync(NbdOption.List, [1]);
        Assert.Equal(NbdOptionReplyType.ErrorInvalid, (await client.ReadOptionReplyAsync()).Header.Type);
        var info = new NbdInfoRequest("missing", []);
        byte[] data = new byte[info.Length];
        info.Write(data);
        await client.SendOptionAsync(NbdOption.Info, data);
        Assert.Equal(NbdOptionReplyType.ErrorUnknown, (await client.ReadOptionReplyAsync()).Header.Type);
        await client.SendOptionAsync(NbdOption.StartTls, []);
        Assert.Equal(NbdOptionReplyType.ErrorUnsupported, (await client.ReadOptionReplyAsync()).Header.Type);

        var (size, _) = await client.GoAsync(string.Empty);
        Assert.Equal((ulong)_disk.Size, size);
    }

    [Fact]
    public async Task Options_Abort_AcknowledgedAndClosed()
    {
        await using var server = await StartAsync();
        await using var client = await RawNbdClient.ConnectAsync(SocketPath);
        await client.GreetAsync();

        await client.SendOptionAsync(NbdOption.Abort, []);

        var (header, _) = await client.ReadOptionReplyAsync();
        Assert.Equal(new NbdOptionReplyHeader(NbdOption.Abort, NbdOptionReplyType.Ack, 0), header);
        Assert.True(await client.ClosedByServerAsync());
    }

    [Fact]
    public async Task Handshake_UnknownClientFlags_Disconnected()
    {
        await using var server = await StartAsync();
        await using var client = await RawNbdClient.ConnectAsync(SocketPath);

        await client.GreetAsync((NbdClientFlags)0x10);

        Assert.True(await client.ClosedByServerAsync());
    }

    [Fact]
    public async Task Handshake_SilentClient_DisconnectedAfterTimeout()
    {
        var time = new FakeTimeProvider();
        await using var server = new NbdServer([new NbdExport("d", _disk)], new NbdServerOptions { HandshakeTimeout = TimeSpan.FromSeconds(10) }, timeProvider: time);
        await server.ListenAsync(NbdEndpoint.Unix(SocketPath));
        await using var client = await RawNbdClient.ConnectAsync(SocketPath);
        await client.ReadAsync(NbdLimits.GreetingSize);
        await WaitForAsync(() => server.ActiveConnections == 1);

        time.Advance(TimeSpan.FromSeconds(11));

        Assert.True(await client.ClosedByServerAsync());
    }

    [Fact]
    public async Task Connections_OverTheCap_RefusedUntilOneCloses()
    {
        await using var server = await StartAsync(new NbdServerOptions { MaxConnections = 1 });
        var first = await RawNbdClient.ConnectAsync(SocketPath);
        await first.GreetAsync();
        await using (var second = await RawNbdClient.ConnectAsync(SocketPath))
        {
            Assert.True(await second.ClosedByServerAsync());
        }

        Assert.Equal(1, server.Statistics.RefusedConnections);
        await first.DisposeAsync();
        await WaitForAsync(() => server.Statistics.Connections == 1 && ActiveConnectionsGone(server));
        await using var third = await RawNbdClient.ConnectAsync(SocketPath);
        await third.GreetAsync();
        await third.GoAsync("d");
    }

    [Fact]
    public async Task Write_PayloadOver32MiB_EinvalThenDisconnected_ServerServesOthers()
    {
        await using var writable = FileVirtualDisk.Create(_directory.Combine("w.img"), 64 * 1024 * 1024);
        await using var server = await StartAsync(exports: [new NbdExport("w", writable)]);
        await using (var client = await RawNbdClient.ConnectAsync(SocketPath))
        {
            await client.GreetAsync();
            await client.GoAsync("w");
            await client.SendRequestAsync(new NbdRequest(NbdCommandFlags.None, NbdCommand.Write, 9, 0, (32 * 1024 * 1024) + 512));

            Assert.Equal(new NbdSimpleReply(NbdError.InvalidArgument, 9), await client.ReadReplyAsync());
            Assert.True(await client.ClosedByServerAsync());
        }

        await using var next = await RawNbdClient.ConnectAsync(SocketPath);
        await next.GreetAsync();
        await next.GoAsync("w");
        await next.SendRequestAsync(new NbdRequest(NbdCommandFlags.Fua, NbdCommand.Write, 1, 512, 512), new byte[512]);
        Assert.Equal(new NbdSimpleReply(NbdError.None, 1), await next.ReadReplyAsync());
    }

    [Fact]
    public async Task Transmission_BadMagic_Disconnected()
    {
        await using var server = await StartAsync();
        await using var client = await RawNbdClient.ConnectAsync(SocketPath);
        await client.GreetAsync();
        await client.GoAsync("d");

        await client.Stream.WriteAsync(new byte[NbdLimits.RequestSize]);

        Assert.True(await client.ClosedByServerAsync());
    }

    [Fact]
    public async Task Handshake_RandomAndMutatedBytes_ServerKeepsServingRealClients()
    {
        await using var server = await StartAsync(new NbdServerOptions { HandshakeTimeout = TimeSpan.FromSeconds(2) });
        var random = new Random(61);
        var go = new NbdInfoRequest("d", [NbdInfoType.BlockSize]);
        byte[] seed = new byte[4 + NbdLimits.OptionHeaderSize + go.Length];
        BinaryPrimitives.WriteUInt32BigEndian(seed, 3);
        new NbdOptionHeader(NbdOption.Go, (uint)go.Length).Write(seed.AsSpan(4));
        go.Write(seed.AsSpan(4 + NbdLimits.OptionHeaderSize));
        for (int i = 0; i < 40; i++)
        {
            byte[] input = i % 2 == 0 ? FuzzInput.Mutate(seed, random) : FuzzInput.RandomBytes(random, 64);
            await using var client = await RawNbdClient.ConnectAsync(SocketPath);
            await client.ReadAsync(NbdLimits.GreetingSize);
            await client.Stream.WriteAsync(input);
            client.Stream.Socket.Shutdown(System.Net.Sockets.SocketShutdown.Send);
            Assert.True(await client.ClosedByServerAsync());
        }

        await using var good = await RawNbdClient.ConnectAsync(SocketPath);
        await good.GreetAsync();
        var (size, _) = await good.GoAsync("d");
        Assert.Equal((ulong)_disk.Size, size);
    }

    [Fact]
    public async Task Stop_WithConnectedClient_ClosesItAndRemovesSocket()
    {
        var server = await StartAsync();
        await using var client = await RawNbdClient.ConnectAsync(SocketPath);
        await client.GreetAsync();
        await client.GoAsync("d");

        await server.DisposeAsync();

        Assert.True(await client.ClosedByServerAsync());
        Assert.False(File.Exists(SocketPath));
    }

    [Fact]
    public async Task Listen_SocketOfLiveServer_Refused_StaleSocket_Replaced()
    {
        await using var server = await StartAsync();
        await using var other = new NbdServer([new NbdExport("d", _disk)]);

        await Assert.ThrowsAsync<IOException>(() => other.ListenAsync(NbdEndpoint.Unix(SocketPath)));

        await server.DisposeAsync();
        using (var stale = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified))
        {
            stale.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(SocketPath));
        }

        await other.ListenAsync(NbdEndpoint.Unix(SocketPath));
        await using var client = await RawNbdClient.ConnectAsync(SocketPath);
        await client.GreetAsync();
        await client.GoAsync("d");
    }

    [Fact]
    public void Constructor_InvalidOptionsOrDuplicateNames_Throws()
    {
        Assert.Throws<ArgumentException>(() => new NbdServer([new NbdExport("d", _disk), new NbdExport("d", _disk)]));
        Assert.Throws<ArgumentException>(() => new NbdServer([new NbdExport("d", _disk)], new NbdServerOptions { MaxConnections = 0 }));
        Assert.Throws<ArgumentException>(() => new NbdServer([new NbdExport("d", _disk)], new NbdServerOptions { DefaultExport = "x" }));
        Assert.Throws<ArgumentException>(() => new NbdExport("a\0b", _disk));
        Assert.Throws<ArgumentException>(() => new NbdServer([new NbdExport("d", _disk)], new NbdServerOptions { MaxPayloadBytesInFlight = 1024 * 1024 }));
    }

    [Fact]
    public void Constructor_InvalidTimeouts_NamesEveryProblem()
    {
        var options = new NbdServerOptions { IdleTimeout = TimeSpan.Zero, HandshakeTimeout = TimeSpan.Zero, MaxRequestsInFlight = 0 };

        var error = Assert.Throws<ArgumentException>(() => new NbdServer([new NbdExport("d", _disk)], options));

        Assert.StartsWith("Invalid NBD server options: ", error.Message, StringComparison.Ordinal);
        Assert.Contains("IdleTimeout must be positive (or infinite).", error.Message, StringComparison.Ordinal);
        Assert.Contains("HandshakeTimeout must be positive.", error.Message, StringComparison.Ordinal);
        Assert.Contains("MaxRequestsInFlight: The field NbdServerOptions.MaxRequestsInFlight must be between 1 and 1024.", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Constructor_InfiniteIdleTimeout_Accepted()
    {
        await using var server = new NbdServer([new NbdExport("d", _disk)], new NbdServerOptions { IdleTimeout = Timeout.InfiniteTimeSpan });
    }

    private async Task<NbdServer> StartAsync(NbdServerOptions? options = null, NbdExport[]? exports = null)
    {
        var server = new NbdServer(exports ?? [new NbdExport("d", _disk)], options);
        await server.ListenAsync(NbdEndpoint.Unix(SocketPath));
        return server;
    }

    private static bool ActiveConnectionsGone(NbdServer server) => server.ActiveConnections == 0;

    private static async Task WaitForAsync(Func<bool> condition)
    {
        for (int i = 0; i < 600 && !condition(); i++)
        {
            await Task.Delay(50);
        }

        Assert.True(condition());
    }
}
