using System.Runtime.InteropServices;
using Accelerator.Fuse.Protocol;
using Accelerator.Linux;

namespace Accelerator.Fuse.Tests.Protocol;

public sealed class FuseInitTests
{
    private static readonly FuseInitSettings Settings = new();

    [Fact]
    public void Negotiate_NewerMinor_RepliesOurMinorWithFullReplyAndFlags2()
    {
        var request = FuseRequest.Parse(FuseRequestBuilder.Init(minor: 45)).ReadInit();

        var result = FuseInit.Negotiate(request, Settings);

        Assert.Equal((0, 64), (result.Error, result.ReplySize));
        Assert.Equal((7U, 38U), (result.Reply.Major, result.Reply.Minor));
        Assert.Equal(38U, result.Connection!.Minor);
        Assert.True(result.Connection.Has(FuseInitFlags.InitExtended | FuseInitFlags.MaxPages | FuseInitFlags.AsyncRead | FuseInitFlags.ParallelDirops));
        Assert.Equal((ushort)256, result.Reply.MaxPages);
        Assert.Equal(1024 * 1024, result.Connection.MaxRead);
        Assert.Equal(1U, result.Reply.TimeGranularity);
        Assert.Equal(0U, result.Reply.Flags2);
    }

    [Fact]
    public void Negotiate_OfferedFlags_GrantsOnlyWantedAndOffered()
    {
        var request = FuseRequest.Parse(FuseRequestBuilder.Init(minor: 38, flags: FuseInitFlags.AsyncRead | FuseInitFlags.WritebackCache | FuseInitFlags.PosixLocks)).ReadInit();

        var result = FuseInit.Negotiate(request, Settings);

        Assert.Equal(FuseInitFlags.AsyncRead | FuseInitFlags.InitExtended, result.Connection!.Flags);
        Assert.Equal(0, result.Connection.MaxPages);
        Assert.Equal(128 * 1024, result.Connection.MaxRead);
    }

    [Theory]
    [InlineData(35, 64)]
    [InlineData(23, 64)]
    [InlineData(22, FuseProtocol.Compat22InitOutSize)]
    [InlineData(5, FuseProtocol.Compat22InitOutSize)]
    [InlineData(4, FuseProtocol.CompatInitOutSize)]
    public void Negotiate_OlderKernel_RepliesItsMinorInItsLayout(uint minor, int replySize)
    {
        var request = FuseRequest.Parse(FuseRequestBuilder.Init(minor: minor)).ReadInit();

        var result = FuseInit.Negotiate(request, Settings);

        Assert.Equal((minor, replySize), (result.Reply.Minor, result.ReplySize));
        Assert.False(result.Connection!.Has(FuseInitFlags.InitExtended));
    }

    [Fact]
    public void Negotiate_NewerMajor_RepliesOurVersionOnlyAndWaitsForAnotherInit()
    {
        var request = FuseRequest.Parse(FuseRequestBuilder.Init(major: 8, minor: 1)).ReadInit();

        var result = FuseInit.Negotiate(request, Settings);

        Assert.Equal((0, FuseProtocol.CompatInitOutSize, 7U, 38U), (result.Error, result.ReplySize, result.Reply.Major, result.Reply.Minor));
        Assert.Null(result.Connection);
    }

    [Fact]
    public void Negotiate_OlderMajor_Refuses()
    {
        var request = FuseRequest.Parse(FuseRequestBuilder.Init(major: 6, minor: 1)).ReadInit();

        var result = FuseInit.Negotiate(request, Settings);

        Assert.Equal(Errno.EPROTO, result.Error);
        Assert.Null(result.Connection);
    }

    [Fact]
    public void Negotiate_HighFlagsInFlags2_AreReadOnlyWithInitExt()
    {
        var settings = Settings with { Flags = FuseInitFlags.HasExpireOnly | FuseInitFlags.AsyncRead };
        var withExt = FuseRequest.Parse(FuseRequestBuilder.Init(minor: 38, flags: FuseInitFlags.HasExpireOnly | FuseInitFlags.AsyncRead)).ReadInit();
        var withoutExt = withExt with { Flags = withExt.Flags & ~(uint)FuseInitFlags.InitExtended };

        var granted = FuseInit.Negotiate(withExt, settings);
        var refused = FuseInit.Negotiate(withoutExt, settings);

        Assert.Equal(1U << 3, granted.Reply.Flags2);
        Assert.True(granted.Connection!.Has(FuseInitFlags.HasExpireOnly));
        Assert.False(refused.Connection!.Has(FuseInitFlags.HasExpireOnly));
        Assert.Equal(0U, refused.Reply.Flags2);
    }

    [Fact]
    public void Negotiate_MaxReadNotPageMultiple_RoundsPagesUp()
    {
        var request = FuseRequest.Parse(FuseRequestBuilder.Init()).ReadInit();

        var result = FuseInit.Negotiate(request, Settings with { MaxRead = (512 * 1024) + 1 });

        Assert.Equal((ushort)129, result.Reply.MaxPages);
        Assert.Equal((512 * 1024) + 1, result.Connection!.MaxRead);
    }

    [Fact]
    public void Write_InitReplyOfOldKernel_SendsPrefixOnly()
    {
        var request = FuseRequest.Parse(FuseRequestBuilder.Init(minor: 22)).ReadInit();
        var result = FuseInit.Negotiate(request, Settings);
        byte[] buffer = new byte[256];

        int length = FuseReply.Write(buffer, 2, result.Reply, result.ReplySize);

        Assert.Equal(16 + 24, length);
        Assert.Equal(16U + 24, MemoryMarshal.Read<FuseOutHeader>(buffer).Length);
    }
}
