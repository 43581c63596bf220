using System.Runtime.InteropServices;
using Accelerator.Fuse.Protocol;
using B = Accelerator.Fuse.Tests.Protocol.FuseRequestBuilder;

namespace Accelerator.Fuse.Tests.Protocol;

public sealed class FuseRequestTests
{
    [Fact]
    public void Parse_Lookup_ExposesHeaderAndName()
    {
        byte[] message = B.Build(FuseOpcode.Lookup, 10, 1, B.Name("etc"), uid: 1000, gid: 100);

        var request = FuseRequest.Parse(message);

        Assert.Equal((FuseOpcode.Lookup, 10UL, 1UL, 1000U, 100U), (request.Opcode, request.Unique, request.NodeId, request.Header.Uid, request.Header.Gid));
        Assert.Equal("etc"u8.ToArray(), request.ReadName().ToArray());
    }

    [Fact]
    public void Parse_ShorterThanHeader_Throws()
    {
        Assert.Throws<FuseProtocolException>(() => FuseRequest.Parse(new byte[39]));
    }

    [Fact]
    public void Parse_LengthDisagreesWithBytesRead_Throws()
    {
        byte[] message = B.Build(FuseOpcode.Lookup, 10, 1, B.Name("etc"));

        var ex = Assert.Throws<FuseProtocolException>(() => FuseRequest.Parse(message.AsSpan(0, message.Length - 1)));

        Assert.Contains("says it is", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_ExtensionsPastTheEnd_Throws()
    {
        byte[] message = B.Build(FuseOpcode.Lookup, 10, 1, B.Name("etc"));
        message[36] = 2; // total_extlen: 16 bytes of extensions in a message with 4 bytes of arguments

        Assert.Throws<FuseProtocolException>(() => FuseRequest.Parse(message));
    }

    [Fact]
    public void Parse_ExtensionsAfterArguments_AreLeftOutOfArguments()
    {
        byte[] message = B.Build(FuseOpcode.Lookup, 10, 1, [.. B.Name("abc"), .. new byte[4], .. new byte[8]]);
        message[36] = 1;

        var request = FuseRequest.Parse(message);

        Assert.Equal(8, request.Arguments.Length);
        Assert.Equal("abc"u8.ToArray(), request.ReadName().ToArray());
    }

    [Theory]
    [InlineData(new byte[] { (byte)'a', (byte)'b' })]
    [InlineData(new byte[] { 0 })]
    public void ReadName_WithoutNulOrEmpty_Throws(byte[] arguments)
    {
        byte[] message = B.Build(FuseOpcode.Lookup, 10, 1, arguments);

        Assert.Throws<FuseProtocolException>(() => FuseRequest.Parse(message).ReadName());
    }

    [Fact]
    public void ReadName_LongerThanNameMax_Throws()
    {
        byte[] message = B.Build(FuseOpcode.Lookup, 10, 1, B.Name(new string('x', 256)));

        Assert.Throws<FuseProtocolException>(() => FuseRequest.Parse(message).ReadName());
    }

    [Fact]
    public void ReadInit_CompatSixteenBytes_ReadsFlags2AsZero()
    {
        var request = FuseRequest.Parse(B.Init(minor: 31, flags: FuseInitFlags.AsyncRead));

        var init = request.ReadInit();

        Assert.Equal((7U, 31U, (uint)FuseInitFlags.AsyncRead, 0U), (init.Major, init.Minor, init.Flags, init.Flags2));
    }

    [Fact]
    public void ReadInit_FifteenBytes_Throws()
    {
        byte[] message = B.Build(FuseOpcode.Init, 2, 0, new byte[15]);

        Assert.Throws<FuseProtocolException>(() => FuseRequest.Parse(message).ReadInit());
    }

    [Fact]
    public void ReadRead_CompatTwentyFourBytes_ReadsOffsetAndSize()
    {
        byte[] message = B.Build(FuseOpcode.Read, 4, 7, new FuseReadIn { FileHandle = 3, Offset = 1 << 20, Size = 4096 }, FuseProtocol.CompatReadInSize);

        var read = FuseRequest.Parse(message).ReadRead();

        Assert.Equal((3UL, 1UL << 20, 4096U, 0UL), (read.FileHandle, read.Offset, read.Size, read.LockOwner));
    }

    [Fact]
    public void ReadGetXattr_SizeAndName_ReadsBoth()
    {
        var request = FuseRequest.Parse(B.GetXattr(6, 9, "user.comment", 100));

        var input = request.ReadGetXattr(out var name);

        Assert.Equal(100U, input.Size);
        Assert.Equal("user.comment"u8.ToArray(), name.ToArray());
    }

    [Fact]
    public void ReadBatchForget_CountWithinPayload_ReadsItems()
    {
        var items = new[] { new FuseForgetOne { NodeId = 5, NLookup = 2 }, new FuseForgetOne { NodeId = 6, NLookup = 1 } };
        byte[] arguments = [.. BitConverter.GetBytes(2u), .. new byte[4], .. MemoryMarshal.AsBytes(items.AsSpan())];

        var forgets = FuseRequest.Parse(B.Build(FuseOpcode.BatchForget, 8, 0, arguments)).ReadBatchForget();

        Assert.Equal(items, forgets.ToArray());
    }

    [Fact]
    public void ReadBatchForget_CountBeyondPayload_Throws()
    {
        byte[] arguments = [.. BitConverter.GetBytes(3u), .. new byte[4], .. new byte[32]];

        Assert.Throws<FuseProtocolException>(() => FuseRequest.Parse(B.Build(FuseOpcode.BatchForget, 8, 0, arguments)).ReadBatchForget());
    }

    [Fact]
    public void Read_ShorterThanStructure_Throws()
    {
        byte[] message = B.Build(FuseOpcode.Open, 8, 2, new byte[4]);

        Assert.Throws<FuseProtocolException>(() => FuseRequest.Parse(message).Read<FuseOpenIn>());
    }
}
