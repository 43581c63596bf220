using System.Runtime.InteropServices;
using Accelerator.Fuse.Protocol;
using Accelerator.Linux;

namespace Accelerator.Fuse.Tests.Protocol;

public sealed class FuseReplyTests
{
    [Fact]
    public void WriteError_Errno_WritesNegatedErrorInBareHeader()
    {
        byte[] buffer = new byte[64];

        int length = FuseReply.WriteError(buffer, 77, Errno.ENOENT);

        var header = MemoryMarshal.Read<FuseOutHeader>(buffer);
        Assert.Equal((16, 16U, -2, 77UL), (length, header.Length, header.Error, header.Unique));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(4096)]
    public void WriteError_OutOfRange_Throws(int errno)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => FuseReply.WriteError(new byte[16], 1, errno));
    }

    [Fact]
    public void WriteData_TooSmallBuffer_Throws()
    {
        Assert.Throws<ArgumentException>(() => FuseReply.WriteData(new byte[20], 1, new byte[5]));
    }

    [Fact]
    public void WriteHeader_DataSentApart_NeedsOnlySixteenBytesAndCountsTheData()
    {
        byte[] header = new byte[16];

        int length = FuseReply.WriteHeader(header, 9, 1 << 20);

        Assert.Equal(16 + (1 << 20), length);
        Assert.Equal((uint)length, MemoryMarshal.Read<FuseOutHeader>(header).Length);
        Assert.Throws<ArgumentException>(() => FuseReply.WriteHeader(new byte[15], 9, 0));
    }

    [Theory]
    [InlineData(8U, 120, 96, 80)]
    [InlineData(9U, 128, 104, 80)]
    [InlineData(3U, 120, 96, 48)]
    public void Sizes_ByMinor_FollowCompatLayouts(uint minor, int entry, int attr, int statfs)
    {
        Assert.Equal((entry, attr, statfs), (FuseReply.EntryOutSize(minor), FuseReply.AttrOutSize(minor), FuseReply.StatfsOutSize(minor)));
    }

    [Fact]
    public void DirectoryWriter_Records_AreAlignedAndZeroPadded()
    {
        byte[] body = new byte[200];
        body.AsSpan().Fill(0xEE);
        var writer = new FuseDirectoryWriter(body);

        Assert.True(writer.TryAdd("a"u8, 5, 8, 1));
        Assert.True(writer.TryAdd("longer-name"u8, 6, 4, 2));

        Assert.Equal(32 + 40, writer.Length);
        var first = MemoryMarshal.Read<FuseDirent>(body);
        Assert.Equal((5UL, 1UL, 1U, 8U), (first.Ino, first.Offset, first.NameLength, first.Type));
        Assert.Equal((byte)'a', body[24]);
        Assert.All(body[25..32], b => Assert.Equal(0, b));
        var second = MemoryMarshal.Read<FuseDirent>(body.AsSpan(32));
        Assert.Equal((6UL, 2UL, 11U), (second.Ino, second.Offset, second.NameLength));
        Assert.All(body[(32 + 24 + 11)..72], b => Assert.Equal(0, b));
    }

    [Fact]
    public void DirectoryWriter_RecordDoesNotFit_IsRefusedWhole()
    {
        byte[] body = new byte[40];
        var writer = new FuseDirectoryWriter(body);

        Assert.True(writer.TryAdd("first"u8, 1, 4, 1));
        Assert.False(writer.TryAdd("second"u8, 2, 4, 2));
        Assert.Equal(32, writer.Length);
    }

    [Fact]
    public void DirectoryWriter_PlusRecord_HasEntryThenDirent()
    {
        byte[] body = new byte[256];
        var writer = new FuseDirectoryWriter(body);
        var entry = new FuseEntryOut { NodeId = 9, Generation = 1, Attr = new FuseAttr { Ino = 9, Mode = 0x81A4 } };

        Assert.True(writer.TryAddPlus("file"u8, entry, 8, 3));

        Assert.Equal(FuseProtocol.DirentAlign(152 + 4), writer.Length);
        Assert.Equal(9UL, MemoryMarshal.Read<FuseEntryOut>(body).NodeId);
        var dirent = MemoryMarshal.Read<FuseDirent>(body.AsSpan(128));
        Assert.Equal((9UL, 3UL, 4U, 8U), (dirent.Ino, dirent.Offset, dirent.NameLength, dirent.Type));
        Assert.Equal("file"u8.ToArray(), body[152..156]);
    }

    [Theory]
    [InlineData("")]
    [InlineData("a\0b")]
    public void DirectoryWriter_BadName_Throws(string name)
    {
        Assert.Throws<ArgumentException>(() => new FuseDirectoryWriter(new byte[64]).TryAdd(System.Text.Encoding.UTF8.GetBytes(name), 1, 4, 1));
    }
}
