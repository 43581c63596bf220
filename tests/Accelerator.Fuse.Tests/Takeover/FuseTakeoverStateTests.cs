using Accelerator.Fuse.Protocol;
using Accelerator.Fuse.Takeover;

namespace Accelerator.Fuse.Tests.Takeover;

public sealed class FuseTakeoverStateTests
{
    private static FuseTakeoverState State() => new()
    {
        Strategy = "block",
        Image = "registry.test/app:1",
        Manifest = "sha256:" + new string('a', 64),
        ReadOnly = false,
        FuseMountPoint = "/run/accel/block-1/fuse",
        DeviceMinor = 77,
        Connection = new FuseConnectionInfo
        {
            KernelMajor = 7,
            KernelMinor = 45,
            Minor = 38,
            KernelFlags = FuseInitFlags.AsyncRead | FuseInitFlags.MaxPages | (FuseInitFlags)(1UL << 39),
            Flags = FuseInitFlags.AsyncRead | FuseInitFlags.MaxPages,
            MaxReadahead = 131072,
            MaxRead = 1 << 20,
            MaxWrite = 128 * 1024,
            MaxPages = 256,
            MaxBackground = 64,
        },
        PrivateDirectory = "/run/accel/block-1",
        Overlay = "/mnt/app",
        LoopDevice = "/dev/loop7",
        BackingFile = "/run/accel/block-1/fuse/disk",
        FileSystemMount = "/run/accel/block-1/lower",
        FileSystemType = "ext4",
        DiskTime = 1_780_000_000,
    };

    [Fact]
    public void ToJson_TryParse_RoundTripsEveryField()
    {
        var state = State();

        var parsed = FuseTakeoverState.TryParse(state.ToJson());

        Assert.Equal(state, parsed);
        Assert.True(parsed!.SameContentAs(state));
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("{\"version\":2}")]
    [InlineData("[]")]
    public void TryParse_NotThisVersionsState_IsNull(string json)
        => Assert.Null(FuseTakeoverState.TryParse(json));

    [Fact]
    public void TryParse_OtherVersion_IsNullEvenWhenComplete()
        => Assert.Null(FuseTakeoverState.TryParse(State().ToJson().Replace("\"version\":1", "\"version\":9", StringComparison.Ordinal)));

    [Fact]
    public void SameContentAs_OtherManifestOrReadOnlyOrStrategy_IsFalse()
    {
        var state = State();

        Assert.False(state.SameContentAs(state with { Manifest = "sha256:" + new string('b', 64) }));
        Assert.False(state.SameContentAs(state with { ReadOnly = true }));
        Assert.False(state.SameContentAs(state with { Strategy = "lazy" }));
        Assert.True(state.SameContentAs(state with { DeviceMinor = 78, Image = "registry.test/app:2" }));
    }
}
