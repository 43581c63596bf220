using Accelerator.Containerd.Api.Snapshots;
using Accelerator.Containerd.Api.Types;
using Google.Protobuf;

namespace Accelerator.Snapshotter.Tests;

public sealed class ProtocolTests
{
    [Fact]
    public void PrepareRequest_UsesContainerdFieldNumbers()
    {
        var request = new PrepareSnapshotRequest { Snapshotter = "accel", Key = "k", Parent = "p" };
        request.Labels.Add("a", "b");
        byte[] bytes = request.ToByteArray();

        // Field 1 (snapshotter), 2 (key), 3 (parent): length-delimited, tags 0x0a, 0x12, 0x1a; field 4 (labels) 0x22.
        Assert.Equal(new byte[] { 0x0a, 5, (byte)'a', (byte)'c', (byte)'c', (byte)'e', (byte)'l', 0x12, 1, (byte)'k', 0x1a, 1, (byte)'p', 0x22 }, bytes[..14]);
    }

    [Fact]
    public void Mount_UsesContainerdFieldNumbers()
    {
        var mount = new Mount { Type = "overlay", Source = "overlay" };
        mount.Options.Add("ro");
        byte[] bytes = mount.ToByteArray();

        Assert.Equal(0x0a, bytes[0]);
        Assert.Equal(0x22, bytes[^4]);
    }
}
