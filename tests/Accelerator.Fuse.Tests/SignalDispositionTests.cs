using Accelerator.Fuse.Interop;
using Accelerator.Fuse.Tests.Support;

namespace Accelerator.Fuse.Tests;

public sealed class SignalDispositionTests
{
    private const string BackgroundJob = "Name:\tdotnet\nSigQ:\t0/7823\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\nSigBlk:\t0000000000000000\nSigIgn:\t0000000000001006\nSigCgt:\t0000000000000000\n";

    [Fact]
    public void IsIgnored_BackgroundJobStatus_SigintIgnoredSigtermNot()
    {
        // 0x1006: SIGINT (bit 1), SIGQUIT (bit 2) and SIGPIPE (bit 12).
        Assert.True(SignalDisposition.IsIgnored(BackgroundJob, TestSyscalls.SIGINT));
        Assert.True(SignalDisposition.IsIgnored(BackgroundJob, 13));
        Assert.False(SignalDisposition.IsIgnored(BackgroundJob, TestSyscalls.SIGTERM));
        Assert.False(SignalDisposition.IsIgnored(BackgroundJob, 1));
    }

    [Fact]
    public void IsIgnored_NoSigIgnLine_False()
        => Assert.False(SignalDisposition.IsIgnored("Name:\tx\nSigCgt:\tffffffffffffffff\n", TestSyscalls.SIGINT));

    [Fact]
    public void IsIgnored_ThisProcess_MatchesItsStatus()
        => Assert.Equal(
            SignalDisposition.IsIgnored(File.ReadAllText("/proc/self/status"), TestSyscalls.SIGINT),
            SignalDisposition.IsIgnored(TestSyscalls.SIGINT));
}
