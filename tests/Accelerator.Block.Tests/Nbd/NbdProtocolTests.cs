using Accelerator.Block.Nbd;
using Accelerator.Block.Nbd.Protocol;
using Accelerator.Testing.Fuzzing;

namespace Accelerator.Block.Tests.Nbd;

public sealed class NbdProtocolTests
{
    [Fact]
    public void Request_WriteThenRead_RoundTrips()
    {
        var request = new NbdRequest(NbdCommandFlags.Fua, NbdCommand.Write, 0x0102030405060708, 1UL << 40, 4096);
        byte[] bytes = new byte[NbdLimits.RequestSize];
        request.Write(bytes);

        Assert.Equal([0x25, 0x60, 0x95, 0x13, 0, 1, 0, 1], bytes[..8]);
        Assert.True(NbdRequest.TryRead(bytes, out var read));
        Assert.Equal(request, read);
        Assert.False(NbdRequest.TryRead(bytes.AsSpan(0, 27), out _));
    }

    [Fact]
    public void Greeting_Written_IsNbdMagicIHaveOptFlags()
    {
        byte[] bytes = new byte[NbdLimits.GreetingSize];
        NbdHandshake.WriteGreeting(bytes, NbdHandshakeFlags.FixedNewstyle | NbdHandshakeFlags.NoZeroes);

        Assert.Equal("NBDMAGICIHAVEOPT"u8.ToArray(), bytes[..16]);
        Assert.Equal([0, 3], bytes[16..]);
    }

    [Fact]
    public void ClientFlags_NoZeroesNotAdvertisedOrUnknown_Throws()
    {
        Assert.Equal(NbdClientFlags.FixedNewstyle, NbdHandshake.ValidateClientFlags(1, NbdHandshakeFlags.FixedNewstyle));
        Assert.Throws<NbdProtocolException>(() => NbdHandshake.ValidateClientFlags(2, NbdHandshakeFlags.FixedNewstyle));
        Assert.Throws<NbdProtocolException>(() => NbdHandshake.ValidateClientFlags(4, NbdHandshakeFlags.FixedNewstyle | NbdHandshakeFlags.NoZeroes));
    }

    [Fact]
    public void InfoRequest_WriteThenParse_RoundTrips()
    {
        var request = new NbdInfoRequest("export/é", [NbdInfoType.BlockSize, NbdInfoType.Name, (NbdInfoType)77]);
        byte[] bytes = new byte[request.Length];
        request.Write(bytes);

        var parsed = NbdInfoRequest.Parse(bytes);
        Assert.Equal(request.ExportName, parsed.ExportName);
        Assert.Equal(request.Requests, parsed.Requests);
        Assert.True(parsed.Asks(NbdInfoType.Name));
    }

    [Theory]
    [InlineData(new byte[] { 0, 0, 0 })]
    [InlineData(new byte[] { 0, 0, 0, 5, 0, 0 })]
    [InlineData(new byte[] { 0, 0, 0, 0, 0, 1 })]
    [InlineData(new byte[] { 0, 0, 0, 0, 0, 0, 9 })]
    [InlineData(new byte[] { 0, 0, 0, 1, 0xff, 0, 0 })]
    [InlineData(new byte[] { 0, 0, 0, 1, 0, 0, 0 })]
    [InlineData(new byte[] { 0xff, 0xff, 0xff, 0xff, 0, 0 })]
    public void InfoRequest_Malformed_Throws(byte[] data)
    {
        Assert.Throws<NbdProtocolException>(() => NbdInfoRequest.Parse(data));
    }

    [Fact]
    public void ServerReply_WriteThenRead_RoundTrips()
    {
        byte[] bytes = new byte[NbdOptionReplyData.ServerLength("a", "desc")];
        NbdOptionReplyData.WriteServer(bytes, "a", "desc");

        Assert.Equal(("a", "desc"), NbdOptionReplyData.ReadServer(bytes));
    }

    [Fact]
    public void Parsers_RandomAndMutatedInput_SucceedOrThrowProtocolException()
    {
        var random = new Random(1966);
        var go = new NbdInfoRequest("disk", [NbdInfoType.BlockSize, NbdInfoType.Description]);
        byte[] goSeed = new byte[go.Length];
        go.Write(goSeed);
        byte[] requestSeed = new byte[NbdLimits.RequestSize];
        new NbdRequest(NbdCommandFlags.None, NbdCommand.Read, 1, 4096, 4096).Write(requestSeed);
        byte[] optionSeed = new byte[NbdLimits.OptionHeaderSize];
        new NbdOptionHeader(NbdOption.Go, 12).Write(optionSeed);
        byte[] serverSeed = new byte[NbdOptionReplyData.ServerLength("disk", "d")];
        NbdOptionReplyData.WriteServer(serverSeed, "disk", "d");

        for (int i = 0; i < 20_000; i++)
        {
            bool mutate = i % 2 == 0;
            Check(() => NbdInfoRequest.Parse(mutate ? FuzzInput.Mutate(goSeed, random) : FuzzInput.RandomBytes(random, 64)));
            Check(() => NbdRequest.TryRead(mutate ? FuzzInput.Mutate(requestSeed, random) : FuzzInput.RandomBytes(random, 40), out _));
            Check(() => NbdOptionHeader.TryRead(mutate ? FuzzInput.Mutate(optionSeed, random) : FuzzInput.RandomBytes(random, 24), out _));
            Check(() => NbdOptionReplyHeader.TryRead(FuzzInput.RandomBytes(random, 24), out _));
            Check(() => NbdSimpleReply.TryRead(FuzzInput.RandomBytes(random, 24), out _));
            Check(() => NbdHandshake.TryReadGreeting(FuzzInput.RandomBytes(random, 24), out _));
            Check(() => NbdOptionReplyData.ReadServer(mutate ? FuzzInput.Mutate(serverSeed, random) : FuzzInput.RandomBytes(random, 32)));
        }

        static void Check(Action parse)
        {
            try
            {
                parse();
            }
            catch (NbdProtocolException)
            {
            }
        }
    }

    [Fact]
    public void Rules_RandomRequests_NeverLetOutOfRangeThrough()
    {
        var random = new Random(7);
        const ulong size = 1 << 20;
        var flags = NbdExport.FlagsFor(readOnly: false);
        byte[] bytes = new byte[NbdLimits.RequestSize];
        for (int i = 0; i < 50_000; i++)
        {
            random.NextBytes(bytes);
            var r = new NbdRequest((NbdCommandFlags)(bytes[0] & 0x1f), (NbdCommand)(bytes[1] & 7), 0,
                random.Next(4) == 0 ? BitConverter.ToUInt64(bytes, 8) : (ulong)random.NextInt64((long)size + 4096), random.Next(3) == 0 ? BitConverter.ToUInt32(bytes, 16) : (uint)random.Next(70000));
            if (NbdRequestRules.Check(r, size, flags) == NbdError.None && r.Command is not (NbdCommand.Disconnect or NbdCommand.Flush))
            {
                Assert.True(r.Length > 0 && r.Offset + r.Length <= size && r.Offset + r.Length > r.Offset);
            }
        }
    }

    [Theory]
    [InlineData(NbdCommand.Read, NbdCommandFlags.None, 0UL, 512U, true, NbdError.None)]
    [InlineData(NbdCommand.Read, NbdCommandFlags.None, 1048576UL, 1U, true, NbdError.InvalidArgument)]
    [InlineData(NbdCommand.Read, NbdCommandFlags.None, 0UL, 0U, true, NbdError.InvalidArgument)]
    [InlineData(NbdCommand.Read, NbdCommandFlags.Fua, 0UL, 512U, true, NbdError.InvalidArgument)]
    [InlineData(NbdCommand.Read, NbdCommandFlags.Fua, 0UL, 512U, false, NbdError.None)]
    [InlineData(NbdCommand.Write, NbdCommandFlags.None, 0UL, 512U, true, NbdError.PermissionDenied)]
    [InlineData(NbdCommand.Write, NbdCommandFlags.None, 1048064UL, 1024U, false, NbdError.NoSpace)]
    [InlineData(NbdCommand.Trim, NbdCommandFlags.None, 1048064UL, 1024U, false, NbdError.InvalidArgument)]
    [InlineData(NbdCommand.Trim, NbdCommandFlags.None, 0UL, 512U, true, NbdError.PermissionDenied)]
    [InlineData(NbdCommand.WriteZeroes, NbdCommandFlags.NoHole, 0UL, 512U, false, NbdError.None)]
    [InlineData(NbdCommand.WriteZeroes, NbdCommandFlags.FastZero, 0UL, 512U, false, NbdError.InvalidArgument)]
    [InlineData(NbdCommand.Flush, NbdCommandFlags.None, 0UL, 0U, true, NbdError.None)]
    [InlineData(NbdCommand.Flush, NbdCommandFlags.None, 0UL, 1U, true, NbdError.InvalidArgument)]
    [InlineData(NbdCommand.Cache, NbdCommandFlags.None, 0UL, 512U, true, NbdError.InvalidArgument)]
    [InlineData(NbdCommand.BlockStatus, NbdCommandFlags.None, 0UL, 512U, true, NbdError.InvalidArgument)]
    [InlineData((NbdCommand)99, NbdCommandFlags.None, 0UL, 512U, true, NbdError.InvalidArgument)]
    public void Rules_Request_GetsSpecAnswer(NbdCommand command, NbdCommandFlags commandFlags, ulong offset, uint length, bool readOnly, NbdError expected)
    {
        var flags = NbdExport.FlagsFor(readOnly);

        Assert.Equal(expected, NbdRequestRules.Check(new NbdRequest(commandFlags, command, 1, offset, length), 1 << 20, flags));
    }

    [Fact]
    public void Rules_ReadOver32MiB_Einval()
    {
        var flags = NbdExport.FlagsFor(readOnly: false);

        Assert.Equal(NbdError.InvalidArgument, NbdRequestRules.Check(new NbdRequest(0, NbdCommand.Read, 1, 0, (32 << 20) + 1), 1UL << 30, flags));
        Assert.Equal(NbdError.None, NbdRequestRules.Check(new NbdRequest(0, NbdCommand.Read, 1, 0, 32 << 20), 1UL << 30, flags));
    }

    [Theory]
    [InlineData("unix:/run/x.sock", "unix:/run/x.sock")]
    [InlineData("tcp://127.0.0.1:10809", "tcp://127.0.0.1:10809")]
    [InlineData("tcp://[::1]:10809", "tcp://[::1]:10809")]
    [InlineData("tcp://localhost:0", "tcp://localhost:0")]
    public void Endpoint_Parse_RoundTrips(string text, string expected)
    {
        Assert.Equal(expected, NbdEndpoint.Parse(text).ToString());
    }

    [Theory]
    [InlineData("unix:")]
    [InlineData("tcp://host")]
    [InlineData("tcp://:80")]
    [InlineData("tcp://h:99999")]
    [InlineData("http://h:1")]
    public void Endpoint_ParseInvalid_Throws(string text)
    {
        Assert.Throws<FormatException>(() => NbdEndpoint.Parse(text));
    }
}
