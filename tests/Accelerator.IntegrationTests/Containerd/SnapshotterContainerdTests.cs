using Accelerator.Containerd.Api.Snapshots;
using Accelerator.Testing.Trees;
using Grpc.Core;
using Grpc.Net.Client;
using SnapshotsApi = Accelerator.Containerd.Api.Snapshots.Snapshots;

namespace Accelerator.IntegrationTests.Containerd;

/// <summary>
/// containerd 1.6 with <c>accel snapshotter</c> as its proxy snapshotter, for an ordinary (unconverted) image: it must
/// behave exactly like containerd's overlayfs snapshotter — the pulled image's tree equals umoci's unpack, containers
/// run, and both survive a restart of the daemon.
/// </summary>
public sealed class SnapshotterContainerdTests(SnapshotterContainerdFixture fixture) : IClassFixture<SnapshotterContainerdFixture>
{
    /// <summary>
    /// containerd's applier restores no directory's mtime after writing into it (umoci does), so directories a layer
    /// changes carry the unpack's time under any snapshotter; everything else must be equal.
    /// </summary>
    private static readonly TreeCompareOptions WithoutDirectoryMtimes = new TreeCompareOptions().Without(TreeFields.DirectoryMtime);

    [Fact]
    public async Task PulledImage_TreeEqualsUmociUnpackAndOverlayfs_AndContainerRuns()
    {
        using (var channel = CreateChannel(fixture.Socket))
        {
            var snapshots = await ListAsync(new SnapshotsApi.SnapshotsClient(channel));
            // The image's top layer: the committed snapshot no other one has as its parent; one committed snapshot per layer.
            var top = Assert.Single(snapshots, s => s.Kind == Kind.Committed && !snapshots.Any(c => c.Parent == s.Name));
            Assert.Equal(fixture.Image.LayerCount, Depth(snapshots, top));
        }

        var accel = await MountImageAsync("accel");
        var overlayfs = await MountImageAsync("overlayfs");

        Assert.Empty(TreeSnapshot.Compare(fixture.Expected, accel, WithoutDirectoryMtimes));
        Assert.Empty(TreeSnapshot.Compare(overlayfs, accel, WithoutDirectoryMtimes));
        await RunAsync("first");
    }

    /// <summary>Mounts the image's read-only view with <c>ctr image mount --snapshotter NAME</c> (unpacking it first when needed) and captures it.</summary>
    private async Task<TreeSnapshot> MountImageAsync(string snapshotter)
    {
        string target = System.IO.Directory.CreateDirectory(Path.Combine(fixture.Directory, snapshotter + "-" + Guid.NewGuid().ToString("N")[..8])).FullName;
        await fixture.Containerd.CtrAsync(["image", "mount", "--plain-http", "--snapshotter", snapshotter, fixture.Reference, target]);
        try
        {
            return TreeSnapshot.Capture(target);
        }
        finally
        {
            await fixture.Containerd.CtrAsync(["image", "unmount", "--rm", target]);
        }
    }

    [Fact]
    public async Task SnapshotterRestarted_ImageStillRuns_NewContainersToo()
    {
        await RunAsync("before");
        using (var channel = CreateChannel(fixture.Socket))
        {
            Assert.NotEmpty(await ListAsync(new SnapshotsApi.SnapshotsClient(channel)));
        }

        await fixture.RestartSnapshotterAsync();

        string listed = await fixture.Containerd.CtrAsync(["snapshots", "--snapshotter", "accel", "ls"]);
        Assert.Contains("Committed", listed, StringComparison.Ordinal);
        await RunAsync("after");
    }

    private async Task RunAsync(string name)
    {
        string output = await fixture.Containerd.CtrAsync(
            ["run", "--rm", "--snapshotter", "accel", fixture.Reference, $"accel-{name}-{Guid.NewGuid():N}"[..30], .. fixture.Image.Command]);
        foreach (string line in fixture.Image.ExpectedOutput)
        {
            Assert.Contains(line, output, StringComparison.Ordinal);
        }
    }

    private static int Depth(List<Info> snapshots, Info top)
    {
        int depth = 1;
        for (var current = top; current.Parent.Length > 0; depth++)
        {
            current = snapshots.Single(s => s.Name == current.Parent);
        }

        return depth;
    }

    private static async Task<List<Info>> ListAsync(SnapshotsApi.SnapshotsClient client)
    {
        using var call = client.List(new ListSnapshotsRequest());
        var infos = new List<Info>();
        await foreach (var response in call.ResponseStream.ReadAllAsync())
        {
            infos.AddRange(response.Info);
        }

        return infos;
    }

    private static GrpcChannel CreateChannel(string socket) => GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions
    {
        HttpHandler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                var unix = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
                await unix.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(socket), cancellationToken);
                return new System.Net.Sockets.NetworkStream(unix, ownsSocket: true);
            },
        },
    });
}
