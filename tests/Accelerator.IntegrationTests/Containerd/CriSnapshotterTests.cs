using System.Text;
using Accelerator.Containerd.Api.Cri;
using Accelerator.Oci.Copying;
using Accelerator.Oci.Layout;
using Accelerator.Snapshotter.Cri;
using Accelerator.Testing.Cri;
using Accelerator.Testing.Images;
using Accelerator.Testing.Processes;
using Accelerator.Testing.Registry;
using Grpc.Core;

namespace Accelerator.IntegrationTests.Containerd;

/// <summary>
/// kubelet's view of a node running <c>accel snapshotter --cri-proxy</c>: a private containerd whose CRI plugin uses
/// the proxy snapshotter <c>accel</c> (<c>disable_snapshot_annotations = false</c>), the real <c>accel snapshotter</c>
/// process serving both the snapshots API and CRI's image service, one open registry (sandbox image, the Debian
/// corpus's python3 image) and the private registries (basic and token auth) holding the same image.
/// </summary>
public sealed class CriSnapshotterFixture : IAsyncLifetime
{
    public const string ReadyLine = "Snapshotter listening on";
    public const string PrivateRepository = "private/python";

    // Short, like /var/lib/accel and /run/accel: the overlay options of a container name every layer's directory.
    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("accel-cs-").FullName;

    public string Root => Path.Combine(Directory, "root");

    public string Socket => Path.Combine(Directory, "run", "snapshotter.sock");

    public string CriSocket => Path.Combine(Directory, "run", "cri.sock");

    public DockerRegistryProcess Registry { get; private set; } = null!;

    public PrivateRegistries Private { get; private set; } = null!;

    public ContainerdProcess Containerd { get; private set; } = null!;

    public AccelProcess Snapshotter { get; private set; } = null!;

    public CriClient Cri { get; private set; } = null!;

    public DebianImage Python { get; private set; } = null!;

    /// <summary>The python3 image as it is (no accelerated variant).</summary>
    public string PythonImage { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var registry = DockerRegistryProcess.StartAsync();
        var privateRegistries = PrivateRegistries.StartAsync();
        Registry = await registry;
        Private = await privateRegistries;
        string sandbox = await SandboxImage.PushAsync(Registry.Host, Directory);
        Python = await DebianImageCorpus.GetAsync(DebianImageCorpus.PythonNginx);
        await Python.PushAsync(Registry.Host, "corpus/python");
        PythonImage = $"{Registry.Host}/corpus/python:{Python.Tag}";
        var layout = OciImageLayout.Open(Python.LayoutPath);
        foreach (var mode in new[] { RegistryAuthMode.Basic, RegistryAuthMode.Token })
        {
            await ImageCopier.CopyAsync(layout, ImageReference.Parse(Python.OciReference), Private.Client.GetStore(Private.Get(mode).Host), PrivateReference(mode));
        }

        var cri = new ContainerdCriOptions { SandboxImage = sandbox, Snapshotter = "accel" };
        cri.PlainHttpRegistries.Add(Registry.Host);
        cri.PlainHttpRegistries.Add(Private.Basic.Host);
        cri.PlainHttpRegistries.Add(Private.Token.Host);
        var options = new ContainerdProcessOptions { Cri = cri };
        options.ProxySnapshotters["accel"] = Socket;
        // containerd connects to its proxy snapshotter lazily, so it may start first; the CRI proxy needs its socket.
        Containerd = await ContainerdProcess.StartAsync(options);
        Snapshotter = AccelProcess.Start(["snapshotter", "--address", Socket, "--root", Root, "--cri-proxy", CriSocket, "--cri-endpoint", Containerd.Address]);
        await Snapshotter.WaitForOutputAsync(ReadyLine, TimeSpan.FromMinutes(1));
        await Containerd.WaitForSnapshotterAsync("accel");
        Cri = CriClient.Connect(Containerd.Address, imageEndpoint: CriSocket);
    }


    public async Task DisposeAsync()
    {
        if (Cri is not null)
        {
            await Cri.RemoveAllPodsAsync();
            Cri.Dispose();
        }

        if (Containerd is not null)
        {
            await Containerd.DisposeAsync();
        }

        if (Snapshotter is not null)
        {
            await Snapshotter.DisposeAsync();
        }

        if (Private is not null)
        {
            await Private.DisposeAsync();
        }

        if (Registry is not null)
        {
            await Registry.DisposeAsync();
        }

        System.IO.Directory.Delete(Directory, recursive: true);
    }

    public ImageReference PrivateReference(RegistryAuthMode mode) => ImageReference.Parse($"{Private.Get(mode).Host}/{PrivateRepository}:{Python.Tag}");

    /// <summary>A new directory under the fixture's directory.</summary>
    public string NewDirectory(string name) => System.IO.Directory.CreateDirectory(Path.Combine(Directory, name + "-" + Guid.NewGuid().ToString("N")[..8])).FullName;
}

/// <summary>CRI pulls and containers through containerd's CRI plugin with <c>snapshotter = "accel"</c> and the real <c>accel snapshotter --cri-proxy</c>.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class CriSnapshotterTests(CriSnapshotterFixture fixture) : IClassFixture<CriSnapshotterFixture>
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(2);

    private const string PythonCheck = "import ssl, sqlite3, json; print(json.dumps({'sqlite': sqlite3.connect(':memory:').execute('select 6 * 7').fetchone()[0]}))";

    private async Task AssertPythonRunsAsync(string image)
    {
        var run = await fixture.Cri.RunToExitAsync(image, ["python3", "-c", PythonCheck], fixture.NewDirectory("logs"), RunTimeout);
        Assert.True(run.ExitCode == 0, $"exit {run.ExitCode} ({run.Status.Reason} {run.Status.Message}): {run.Output}\n{fixture.Snapshotter.Error}");
        Assert.Contains("{\"sqlite\": 42}", run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PullImage_UnconvertedImage_RunsOnTheAccelSnapshotter()
    {
        await fixture.Cri.PullImageAsync(fixture.PythonImage);

        await AssertPythonRunsAsync(fixture.PythonImage);
        string snapshots = await fixture.Containerd.CtrInNamespaceAsync(ContainerdProcess.CriNamespace, ["snapshots", "--snapshotter", "accel", "ls"]);
        Assert.Contains("Committed", snapshots, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(RegistryAuthMode.Basic)]
    [InlineData(RegistryAuthMode.Token)]
    public async Task PullImage_PrivateRegistryThroughTheDaemonsProxy_NeedsAndKeepsTheCredential(RegistryAuthMode mode)
    {
        var reference = fixture.PrivateReference(mode).ToString();
        await Assert.ThrowsAsync<RpcException>(() => fixture.Cri.PullImageAsync(reference));

        await fixture.Cri.PullImageAsync(reference, new AuthConfig
        {
            Auth = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{PrivateRegistries.Username}:{fixture.Private.Password}")),
        });
        await AssertPythonRunsAsync(reference);

        string file = Path.Combine(fixture.Root, "cri", CriCredentialStore.FileName);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        Assert.Contains($"\"{CriSnapshotterFixture.PrivateRepository}\"", await File.ReadAllTextAsync(file), StringComparison.Ordinal);
        foreach (string secret in fixture.Private.Secrets)
        {
            Assert.DoesNotContain(secret, fixture.Snapshotter.Output + fixture.Snapshotter.Error, StringComparison.Ordinal);
        }
    }
}
