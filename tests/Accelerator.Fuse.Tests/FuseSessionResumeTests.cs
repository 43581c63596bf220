using System.Runtime.InteropServices;
using System.Text.Json;
using Accelerator.Fuse.Protocol;
using Accelerator.Fuse.Tests.Support;
using Accelerator.Linux;
using B = Accelerator.Fuse.Tests.Protocol.FuseRequestBuilder;

namespace Accelerator.Fuse.Tests;

/// <summary>
/// The session side of a takeover, fed kernel-format requests directly: a resumed session (no INIT), resent requests
/// (bit 63 of unique), stopping with reads in flight, and the saved connection's JSON.
/// </summary>
public sealed class FuseSessionResumeTests(SessionSourceFixture source) : IClassFixture<SessionSourceFixture>
{
    private const ulong Resent = FuseProtocol.UniqueResend;

    [Fact]
    public async Task Resume_WithoutInit_ServesRequestsAndAnswersALateInitEproto()
    {
        var connection = Negotiated(kernelMinor: 45);

        await using var harness = new SessionHarness(source.Source, resumed: connection);

        Assert.True(harness.Session.IsResumed);
        Assert.Same(connection, await harness.Session.Initialized);
        Assert.NotEqual(0UL, harness.LookupNode(1, "data"));
        Assert.Equal(-Errno.EPROTO, harness.Call(B.Init(unique: harness.NextUnique())).Header.Error);
    }

    [Fact]
    public async Task Process_ResentRead_ReplyEchoesTheUniqueWithTheResendBit()
    {
        await using var harness = new SessionHarness(source.Source, resumed: Negotiated(kernelMinor: 45));
        ulong node = harness.LookupNode(1, "data");
        ulong unique = harness.NextUnique() | Resent;

        harness.Send(B.Read(FuseOpcode.Read, unique, node, 0, 4096, 4096));

        var (header, body) = SessionHarness.Split(await harness.Sink.ReplyTo(unique).WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal((0, unique), (header.Error, header.Unique));
        Assert.Equal(source.Data[4096..8192], body);
        Assert.Equal(1, harness.Session.Statistics.ResentRequests);
    }

    [Fact]
    public async Task Process_InterruptOfAResentRead_CancelsIt()
    {
        GatedContentReader? gate = null;
        await using var harness = new SessionHarness(source.Source, content: index => gate = new GatedContentReader(new DirectoryContentReader(index), index.Lookup(1, "data")!.Inode, honoursCancellation: true), resumed: Negotiated(kernelMinor: 45));
        ulong node = harness.LookupNode(1, "data");
        ulong unique = harness.NextUnique() | Resent;

        harness.Send(B.Read(FuseOpcode.Read, unique, node, 0, 0, 4096));
        await gate!.Entered;
        harness.Send(B.Build(FuseOpcode.Interrupt, harness.NextUnique() | FuseProtocol.InterruptUniqueBit, 0, new FuseInterruptIn { Unique = unique }));

        var (header, _) = SessionHarness.Split(await harness.Sink.ReplyTo(unique).WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(-Errno.EINTR, header.Error);
        Assert.Equal(1, harness.Session.Statistics.Interrupts);
    }

    [Fact]
    public async Task StopReadingAsync_ReadAnsweredWithinTheStopTimeout_IsReplied()
    {
        GatedContentReader? gate = null;
        var options = new FuseSessionOptions { StopTimeout = TimeSpan.FromMinutes(5) };
        await using var harness = new SessionHarness(source.Source, options, content: index => gate = new GatedContentReader(new DirectoryContentReader(index), index.Lookup(1, "data")!.Inode, honoursCancellation: true));
        harness.Initialize();
        ulong node = harness.LookupNode(1, "data");
        ulong unique = harness.NextUnique();
        harness.Send(B.Read(FuseOpcode.Read, unique, node, 0, 0, 4096));
        await gate!.Entered;

        var stopping = harness.Session.StopReadingAsync();
        Assert.False(harness.Sink.HasReply(unique));
        gate.Release();
        await stopping.WaitAsync(TimeSpan.FromSeconds(30));

        var (header, body) = SessionHarness.Split(await harness.Sink.ReplyTo(unique));
        Assert.Equal(0, header.Error);
        Assert.Equal(source.Data[..4096], body);
        Assert.True(harness.Session.IsStopping);
    }

    [Fact]
    public async Task StopReadingAsync_ReadOutlivingTheStopTimeout_IsLeftUnansweredEvenWhenCancelled()
    {
        GatedContentReader? gate = null;
        var options = new FuseSessionOptions { StopTimeout = TimeSpan.FromMilliseconds(100) };
        var harness = new SessionHarness(source.Source, options, content: index => gate = new GatedContentReader(new DirectoryContentReader(index), index.Lookup(1, "data")!.Inode, honoursCancellation: true));
        harness.Initialize();
        ulong node = harness.LookupNode(1, "data");
        ulong unique = harness.NextUnique();
        harness.Send(B.Read(FuseOpcode.Read, unique, node, 0, 0, 4096));
        await gate!.Entered;

        await harness.Session.StopReadingAsync().WaitAsync(TimeSpan.FromSeconds(30));
        await harness.DisposeAsync();

        // Disposing cancelled the backend's read; its EIO went nowhere: the request is the successor's.
        await gate.FirstCancellation.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.False(harness.Sink.HasReply(unique));
    }

    [Fact]
    public async Task Process_NotifyReplyLeftByAPredecessorsWakeUp_IsIgnored()
    {
        await using var harness = new SessionHarness(source.Source, resumed: Negotiated(kernelMinor: 45));
        ulong node = harness.LookupNode(1, "data");

        // What the kernel sends for a predecessor's FUSE_NOTIFY_RETRIEVE of size 0: no data, and no reply expected.
        harness.Send(B.Build(FuseOpcode.NotifyReply, FuseSession.WakeUnique, node, new FuseNotifyRetrieveIn()));

        Assert.False(harness.Sink.HasReply(FuseSession.WakeUnique));
        Assert.Equal(0, harness.Session.Statistics.ErrorReplies);
        Assert.Equal(1, harness.Session.Statistics.GetRequestCount(FuseOpcode.NotifyReply));
    }

    [Fact]
    public void KernelCanResend_ProtocolOrFlag_SaysWhetherTheKernelTakesTheNotification()
    {
        Assert.False(Negotiated(kernelMinor: 38).KernelCanResend);
        Assert.False(Negotiated(kernelMinor: 39).KernelCanResend);
        Assert.True(Negotiated(kernelMinor: 39, flags: FuseInitFlags.HasResend).KernelCanResend);
        Assert.True(Negotiated(kernelMinor: 40).KernelCanResend);
        Assert.True(Negotiated(kernelMinor: 45).KernelCanResend);
    }

    [Fact]
    public void ToJson_FromJson_RoundTripsEveryField()
    {
        var connection = Negotiated(kernelMinor: 45);

        string json = connection.ToJson();
        var back = FuseConnectionInfo.FromJson(json);

        Assert.Equal(connection, back);
        Assert.True(back.KernelCanResend);
        Assert.Contains("\"kernelMinor\":45", json, StringComparison.Ordinal);
        Assert.DoesNotContain("kernelCanResend", json, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("null")]
    [InlineData("{}")]
    [InlineData("[1]")]
    [InlineData("{\"kernelMajor\":8,\"kernelMinor\":45,\"minor\":38,\"kernelFlags\":0,\"flags\":0,\"maxReadahead\":0,\"maxRead\":4096,\"maxWrite\":4096,\"maxPages\":1,\"maxBackground\":1}")]
    [InlineData("{\"kernelMajor\":7,\"kernelMinor\":45,\"minor\":39,\"kernelFlags\":0,\"flags\":0,\"maxReadahead\":0,\"maxRead\":4096,\"maxWrite\":4096,\"maxPages\":1,\"maxBackground\":1}")]
    [InlineData("{\"kernelMajor\":7,\"kernelMinor\":45,\"minor\":38,\"kernelFlags\":0,\"flags\":1,\"maxReadahead\":0,\"maxRead\":4096,\"maxWrite\":4096,\"maxPages\":1,\"maxBackground\":1}")]
    [InlineData("{\"kernelMajor\":7,\"kernelMinor\":45,\"minor\":38,\"kernelFlags\":0,\"flags\":0,\"maxReadahead\":0,\"maxRead\":0,\"maxWrite\":4096,\"maxPages\":1,\"maxBackground\":1}")]
    [InlineData("{\"kernelMajor\":7,\"kernelMinor\":45,\"minor\":38,\"kernelFlags\":0,\"flags\":0,\"maxReadahead\":0,\"maxRead\":4096,\"maxWrite\":4096,\"maxPages\":1,\"maxBackground\":0}")]
    public void FromJson_NotAConnectionINITCouldSettle_ThrowsJsonException(string json)
    {
        Assert.ThrowsAny<JsonException>(() => FuseConnectionInfo.FromJson(json));
    }

    [Fact]
    public void WriteNotification_Resend_IsABareHeaderWithUniqueZeroAndCodeSeven()
    {
        byte[] buffer = new byte[64];

        int length = FuseReply.WriteNotification(buffer, FuseNotifyCode.Resend);

        var header = MemoryMarshal.Read<FuseOutHeader>(buffer);
        Assert.Equal((16, 16U, 7, 0UL), (length, header.Length, header.Error, header.Unique));
        Assert.Equal(1UL << 39, (ulong)FuseInitFlags.HasResend);
        Assert.Equal(1UL << 63, FuseProtocol.UniqueResend);
    }

    [Fact]
    public void Parse_UniqueWithTheResendBit_IsKeptWhole()
    {
        var request = FuseRequest.Parse(B.Read(FuseOpcode.Read, 0x8000_0000_0000_0010, 5, 0, 0, 4096));

        Assert.Equal(0x8000_0000_0000_0010UL, request.Unique);
        Assert.Equal(4096U, request.ReadRead().Size);
    }

    private static FuseConnectionInfo Negotiated(uint kernelMinor, FuseInitFlags flags = FuseInitFlags.AsyncRead | FuseInitFlags.MaxPages)
    {
        var init = FuseRequest.Parse(B.Init(minor: kernelMinor, flags: flags)).ReadInit();
        return FuseInit.Negotiate(init, new FuseInitSettings()).Connection!;
    }
}
