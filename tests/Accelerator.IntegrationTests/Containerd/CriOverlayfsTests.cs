using Accelerator.Testing.Cri;
using Accelerator.Testing.Images;
using Accelerator.Testing.Processes;
using Accelerator.Testing.Registry;

namespace Accelerator.IntegrationTests.Containerd;

/// <summary>
/// One real docker-registry (the sandbox image and the Debian corpus's python3 image) and one private containerd
/// whose CRI plugin uses its own overlayfs snapshotter: the reference for what the accel snapshotter must match.
/// </summary>
public sealed class CriOverlayfsFixture : IAsyncLifetime
{
    public string WorkDirectory { get; } = Directory.CreateTempSubdirectory("accel-cri-overlayfs-").FullName;

    public DockerRegistryProcess Registry { get; private set; } = null!;

    public ContainerdProcess Containerd { get; private set; } = null!;

    public CriClient Cri { get; private set; } = null!;

    /// <summary>The corpus image with python3, in the registry.</summary>
    public string PythonImage { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Registry = await DockerRegistryProcess.StartAsync();
        string sandbox = await SandboxImage.PushAsync(Registry.Host, WorkDirectory);
        var python = await DebianImageCorpus.GetAsync(DebianImageCorpus.PythonNginx);
        await python.PushAsync(Registry.Host, "corpus/python");
        PythonImage = $"{Registry.Host}/corpus/python:{python.Tag}";
        var cri = new ContainerdCriOptions { SandboxImage = sandbox };
        cri.PlainHttpRegistries.Add(Registry.Host);
        Containerd = await ContainerdProcess.StartAsync(new ContainerdProcessOptions { Cri = cri });
        Cri = CriClient.Connect(Containerd.Address);
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

        if (Registry is not null)
        {
            await Registry.DisposeAsync();
        }

        Directory.Delete(WorkDirectory, recursive: true);
    }

    /// <summary>A new directory under the work directory.</summary>
    public string NewDirectory(string name) => Directory.CreateDirectory(Path.Combine(WorkDirectory, name + "-" + Guid.NewGuid().ToString("N")[..8])).FullName;
}

/// <summary>kubelet's path through containerd's CRI plugin with its overlayfs snapshotter: pull, host-network pod, container.</summary>
public sealed class CriOverlayfsTests(CriOverlayfsFixture fixture) : IClassFixture<CriOverlayfsFixture>
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task PullImage_RealPythonImage_ContainerImportsModulesAndExitsZero()
    {
        string imageRef = await fixture.Cri.PullImageAsync(fixture.PythonImage);

        Assert.StartsWith("sha256:", imageRef, StringComparison.Ordinal);
        var status = await fixture.Cri.ImageStatusAsync(fixture.PythonImage);
        Assert.NotNull(status);
        Assert.Equal(imageRef, status.Id);
        var run = await fixture.Cri.RunToExitAsync(fixture.PythonImage,
            ["python3", "-c", "import ssl, sqlite3, json; print(json.dumps({'sqlite': sqlite3.connect(':memory:').execute('select 6 * 7').fetchone()[0]}))"],
            fixture.NewDirectory("logs"), RunTimeout);
        Assert.True(run.ExitCode == 0, $"exit {run.ExitCode} ({run.Status.Reason} {run.Status.Message}): {run.Output}");
        Assert.Contains("{\"sqlite\": 42}", run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunToExit_FailingCommand_ReportsItsExitCode()
    {
        await fixture.Cri.PullImageAsync(fixture.PythonImage);

        var run = await fixture.Cri.RunToExitAsync(fixture.PythonImage, ["python3", "-c", "import sys; print('bye'); sys.exit(3)"], fixture.NewDirectory("logs"), RunTimeout);

        Assert.Equal(3, run.ExitCode);
        Assert.Contains("bye", run.Output, StringComparison.Ordinal);
    }
}
