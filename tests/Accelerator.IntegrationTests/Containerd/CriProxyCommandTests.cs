using Accelerator.Containerd.Api.Cri;
using Accelerator.Testing.Cri;
using Accelerator.Testing.Processes;
using Grpc.Core;

namespace Accelerator.IntegrationTests.Containerd;

/// <summary><c>accel snapshotter</c>'s CRI image-service proxy configured by the <c>[cri_proxy]</c> section.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class CriProxyCommandTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("accel-cpc-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task ConfigSection_ServesOwnerOnlySocket_StateUnderRoot_ContainerdDownIsUnavailable_SigtermRemovesSocket()
    {
        string socket = Path.Combine(_directory, "run", "s.sock");
        string criSocket = Path.Combine(_directory, "run", "cri.sock");
        string root = Path.Combine(_directory, "root");
        string config = Path.Combine(_directory, "snapshotter.toml");
        File.WriteAllText(config, $"""
            [snapshotter]
            root = "{root}"
            address = "{socket}"

            [cri_proxy]
            address = "{criSocket}"
            endpoint = "{Path.Combine(_directory, "no-containerd.sock")}"
            """);

        await using var accel = AccelProcess.Start("snapshotter", "--config", config);
        await accel.WaitForOutputAsync(SnapshotterContainerdFixture.ReadyLine, TimeSpan.FromMinutes(1));
        using var cri = CriClient.Connect(criSocket, criSocket);
        var error = await Assert.ThrowsAsync<RpcException>(() => cri.Images.ImageFsInfoAsync(new ImageFsInfoRequest()).ResponseAsync);

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(criSocket));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.Combine(root, "cri")));
        Assert.Equal(0, await accel.TerminateAsync());
        Assert.False(File.Exists(criSocket));
    }
}
