using System.Collections.Concurrent;
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
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Accelerator.IntegrationTests.Containerd;

/// <summary>
/// One real docker-registry (the sandbox image and the Debian corpus's python3 image), the private registries (basic
/// and token auth) holding the same image, one private containerd whose CRI plugin uses its own overlayfs snapshotter,
/// and the CRI image-service proxy in process in front of it (as kubelet's <c>--image-service-endpoint</c>).
/// </summary>
public sealed class CriOverlayfsFixture : IAsyncLifetime
{
    public const string PrivateRepository = "private/python";

    public string WorkDirectory { get; } = Directory.CreateTempSubdirectory("accel-cri-overlayfs-").FullName;

    public DockerRegistryProcess Registry { get; private set; } = null!;

    public PrivateRegistries Private { get; private set; } = null!;

    public ContainerdProcess Containerd { get; private set; } = null!;

    public IHost ProxyHost { get; private set; } = null!;

    /// <summary>The runtime straight to containerd, images through the proxy (kubelet's two endpoints).</summary>
    public CriClient Cri { get; private set; } = null!;

    /// <summary>What the proxy logged.</summary>
    public ConcurrentQueue<string> ProxyLog { get; } = new();

    public CriCredentialStore Credentials => ProxyHost.Services.GetRequiredService<CriCredentialStore>();

    public string ProxyStateDirectory => Path.Combine(WorkDirectory, "proxy-state");

    /// <summary>The corpus image with python3, in the open registry.</summary>
    public string PythonImage { get; private set; } = null!;

    public DebianImage Python { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var registry = DockerRegistryProcess.StartAsync();
        var privateRegistries = PrivateRegistries.StartAsync();
        Registry = await registry;
        Private = await privateRegistries;
        string sandbox = await SandboxImage.PushAsync(Registry.Host, WorkDirectory);
        Python = await DebianImageCorpus.GetAsync(DebianImageCorpus.PythonNginx);
        await Python.PushAsync(Registry.Host, "corpus/python");
        PythonImage = $"{Registry.Host}/corpus/python:{Python.Tag}";
        var layout = OciImageLayout.Open(Python.LayoutPath);
        foreach (var mode in new[] { RegistryAuthMode.Basic, RegistryAuthMode.Token })
        {
            await ImageCopier.CopyAsync(layout, ImageReference.Parse(Python.OciReference), Private.Client.GetStore(Private.Get(mode).Host), PrivateReference(mode));
        }

        var cri = new ContainerdCriOptions { SandboxImage = sandbox };
        cri.PlainHttpRegistries.Add(Registry.Host);
        cri.PlainHttpRegistries.Add(Private.Basic.Host);
        cri.PlainHttpRegistries.Add(Private.Token.Host);
        Containerd = await ContainerdProcess.StartAsync(new ContainerdProcessOptions { Cri = cri });

        string proxySocket = Path.Combine(WorkDirectory, "run", "cri.sock");
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Debug);
        builder.Logging.AddProvider(new QueueLoggerProvider(ProxyLog));
        builder.Services.AddCriImageProxy(o =>
        {
            o.Address = proxySocket;
            o.Endpoint = Containerd.Address;
            o.StateDirectory = ProxyStateDirectory;
        });
        ProxyHost = builder.Build();
        await ProxyHost.StartAsync();
        Cri = CriClient.Connect(Containerd.Address, imageEndpoint: proxySocket);
    }

    public async Task DisposeAsync()
    {
        if (Cri is not null)
        {
            await Cri.RemoveAllPodsAsync();
            Cri.Dispose();
        }

        if (ProxyHost is not null)
        {
            await ProxyHost.StopAsync();
            ProxyHost.Dispose();
        }

        if (Containerd is not null)
        {
            await Containerd.DisposeAsync();
        }

        if (Private is not null)
        {
            await Private.DisposeAsync();
        }

        if (Registry is not null)
        {
            await Registry.DisposeAsync();
        }

        Directory.Delete(WorkDirectory, recursive: true);
    }

    public ImageReference PrivateReference(RegistryAuthMode mode) => ImageReference.Parse($"{Private.Get(mode).Host}/{PrivateRepository}:{Python.Tag}");

    /// <summary>A new directory under the work directory.</summary>
    public string NewDirectory(string name) => Directory.CreateDirectory(Path.Combine(WorkDirectory, name + "-" + Guid.NewGuid().ToString("N")[..8])).FullName;

    private sealed class QueueLoggerProvider(ConcurrentQueue<string> log) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new QueueLogger(log);

        public void Dispose()
        {
        }

        private sealed class QueueLogger(ConcurrentQueue<string> log) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
                => log.Enqueue(formatter(state, exception) + (exception is null ? "" : " " + exception));
        }
    }
}

/// <summary>
/// kubelet's path through containerd's CRI plugin with its overlayfs snapshotter: pull, host-network pod, container;
/// and the CRI image-service proxy in front of it, capturing the credentials of private pulls.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class CriOverlayfsTests(CriOverlayfsFixture fixture) : IClassFixture<CriOverlayfsFixture>
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(2);

    private const string PythonCheck = "import ssl, sqlite3, json; print(json.dumps({'sqlite': sqlite3.connect(':memory:').execute('select 6 * 7').fetchone()[0]}))";

    [Fact]
    public async Task PullImage_RealPythonImage_ContainerImportsModulesAndExitsZero()
    {
        string imageRef = await fixture.Cri.PullImageAsync(fixture.PythonImage);

        Assert.StartsWith("sha256:", imageRef, StringComparison.Ordinal);
        var status = await fixture.Cri.ImageStatusAsync(fixture.PythonImage);
        Assert.NotNull(status);
        Assert.Equal(imageRef, status.Id);
        var run = await fixture.Cri.RunToExitAsync(fixture.PythonImage, ["python3", "-c", PythonCheck], fixture.NewDirectory("logs"), RunTimeout);
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

    [Theory]
    [InlineData(RegistryAuthMode.Basic)]
    [InlineData(RegistryAuthMode.Token)]
    public async Task PullImage_PrivateRegistryWithoutCredential_FailsAndChangesNothing(RegistryAuthMode mode)
    {
        var reference = fixture.PrivateReference(mode);
        var before = fixture.Credentials.Find(reference.Registry, reference.Repository);

        var error = await Assert.ThrowsAsync<RpcException>(() => fixture.Cri.PullImageAsync(reference.ToString()));

        Assert.True(System.Text.RegularExpressions.Regex.IsMatch(error.Status.Detail, "(?i)401|unauthorized|authorization failed"), error.Status.Detail);
        Assert.Equal(before, fixture.Credentials.Find(reference.Registry, reference.Repository));
    }

    [Fact]
    public async Task PullImage_PrivateRegistryWrongPassword_FailsAndKeepsWhatWasThere()
    {
        var reference = fixture.PrivateReference(RegistryAuthMode.Basic);
        var before = fixture.Credentials.Find(reference.Registry, reference.Repository);
        var auth = new AuthConfig { Username = PrivateRegistries.Username, Password = "not-the-password" };

        await Assert.ThrowsAsync<RpcException>(() => fixture.Cri.PullImageAsync(reference.ToString(), auth));

        Assert.Equal(before, fixture.Credentials.Find(reference.Registry, reference.Repository));
    }

    [Theory]
    [InlineData(RegistryAuthMode.Basic)]
    [InlineData(RegistryAuthMode.Token)]
    public async Task PullImage_PrivateRegistryWithCredential_PullsRunsAndKeepsItForThatRepositoryOnly(RegistryAuthMode mode)
    {
        var reference = fixture.PrivateReference(mode);
        // kubelet sends an image pull secret either as user name and password or as docker's base64 auth.
        var auth = mode == RegistryAuthMode.Basic
            ? new AuthConfig { Username = PrivateRegistries.Username, Password = fixture.Private.Password, ServerAddress = $"http://{reference.Registry}" }
            : new AuthConfig { Auth = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{PrivateRegistries.Username}:{fixture.Private.Password}")) };

        await fixture.Cri.PullImageAsync(reference.ToString(), auth);
        var run = await fixture.Cri.RunToExitAsync(reference.ToString(), ["python3", "-c", PythonCheck], fixture.NewDirectory("logs"), RunTimeout);

        Assert.True(run.ExitCode == 0, $"exit {run.ExitCode}: {run.Output}");
        var kept = fixture.Credentials.Find(reference.Registry, reference.Repository);
        Assert.NotNull(kept);
        Assert.Equal(PrivateRegistries.Username, kept.Username);
        Assert.Equal(fixture.Private.Password, kept.Password);
        Assert.Null(fixture.Credentials.Find(reference.Registry, "private/other"));
        Assert.Null(fixture.Credentials.Find(fixture.Registry.Host, reference.Repository));
        string file = Path.Combine(fixture.ProxyStateDirectory, CriCredentialStore.FileName);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(fixture.ProxyStateDirectory));
        Assert.Contains(fixture.ProxyLog, line => line.Contains(reference.Repository, StringComparison.Ordinal));
        foreach (string secret in fixture.Private.Secrets)
        {
            Assert.DoesNotContain(fixture.ProxyLog, line => line.Contains(secret, StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task PullImage_CredentialForAnotherRegistry_IsNeitherUsedNorKept()
    {
        var reference = fixture.PrivateReference(RegistryAuthMode.Basic);
        var auth = new AuthConfig { Username = PrivateRegistries.Username, Password = fixture.Private.Password, ServerAddress = "https://registry.example.com" };
        var before = fixture.Credentials.Find(reference.Registry, reference.Repository);

        // containerd ignores an auth whose server address names another registry, and so does the proxy.
        await Assert.ThrowsAsync<RpcException>(() => fixture.Cri.PullImageAsync(reference.ToString() + "-absent", auth));

        Assert.Equal(before, fixture.Credentials.Find(reference.Registry, reference.Repository));
        Assert.Null(fixture.Credentials.Find("registry.example.com", reference.Repository));
    }

    [Fact]
    public async Task ProxySocket_IsOwnerOnly()
    {
        string socket = Path.Combine(fixture.WorkDirectory, "run", "cri.sock");

        var images = await fixture.Cri.Images.ListImagesAsync(new ListImagesRequest());

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(socket));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(socket)!));
        Assert.NotNull(images);
    }
}
