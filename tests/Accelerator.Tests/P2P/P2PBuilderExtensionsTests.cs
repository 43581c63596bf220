using System.Net;
using System.Net.Sockets;
using Accelerator.Oci;
using Accelerator.Oci.Registry;
using Accelerator.P2P.Proxy;
using Accelerator.Testing;
using Accelerator.Testing.Registry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Accelerator.Tests.P2P;

/// <summary><c>UseP2P</c>: options validated at build, registry blobs read through the peer's proxy, the registry behind it.</summary>
public sealed class P2PBuilderExtensionsTests : IAsyncLifetime
{
    private const string Repository = "p2p/builder";

    private readonly byte[] _blob = new byte[200_000];
    private DockerRegistryProcess _registry = null!;
    private Descriptor _descriptor = null!;

    public async Task InitializeAsync()
    {
        new Random(3).NextBytes(_blob);
        _descriptor = Descriptor.FromContent("application/octet-stream", _blob);
        _registry = await DockerRegistryProcess.StartAsync();
        using var client = new RegistryClient(new RegistryOptions { PlainHttp = true, DockerConfigPath = TestRegistryOptions.NoDockerConfig });
        await client.PushBlobAsync(_registry.Host, Repository, _descriptor, new MemoryStream(_blob));
    }

    public async Task DisposeAsync() => await _registry.DisposeAsync();

    private ImageAcceleratorHost Build(Uri proxy) => new ImageAcceleratorBuilder()
        .AddRegistry(_registry.Host, r => r.PlainHttp = true)
        .ConfigureRegistries(r => r.DockerConfigPath = TestRegistryOptions.NoDockerConfig)
        .UseP2P(proxy)
        .UseFullPull()
        .Build();

    private IBlobSource BlobsOf(ImageAcceleratorHost host)
        => host.Services.GetRequiredService<ImageStoreResolver>().GetStore(ImageReference.Parse($"{_registry.Host}/{Repository}:any")).Blobs;

    [Theory]
    [InlineData(null)]
    [InlineData("ftp://127.0.0.1:1/")]
    [InlineData("http://127.0.0.1:1/?ns=x")]
    public void Build_InvalidProxy_ThrowsOptionsValidation(string? proxy)
    {
        var builder = new ImageAcceleratorBuilder().UseP2P(o => o.Proxy = proxy is null ? null : new Uri(proxy)).UseFullPull();

        var ex = Assert.Throws<OptionsValidationException>(() => builder.Build());
        Assert.Contains("Proxy", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UseP2P_ProxyServing_ReadsBlobThroughPeer()
    {
        var peer = new InMemoryBlobSource();
        peer.Add(_blob);
        await using var proxy = await RegistryMirrorProxy.StartAsync(
            new RegistryMirrorProxyOptions { Listen = new Uri("http://127.0.0.1:0"), PlainHttpUpstream = true },
            _ => peer);
        await using var host = Build(proxy.Url);
        var blobs = BlobsOf(host);

        byte[] read = await blobs.ReadAllBytesAsync(new BlobAddress(Repository, _descriptor.Digest, _descriptor.Size), 1 << 20);
        byte[] range = new byte[1000];
        int n = await blobs.ReadRangeAsync(new BlobAddress(Repository, _descriptor.Digest, _descriptor.Size), 5000, range);

        Assert.Equal(_blob, read);
        Assert.Equal(_blob.AsSpan(5000, 1000).ToArray(), range[..n]);
        Assert.Equal(_blob.Length + 1000, peer.BytesServed);
        Assert.Equal(0, Assert.IsType<FallbackBlobSource>(blobs).Fallbacks);
    }

    [Fact]
    public async Task UseP2P_PeerDown_FallsBackToRegistry()
    {
        await using var host = Build(new Uri($"http://127.0.0.1:{ClosedPort()}/"));
        var blobs = BlobsOf(host);

        byte[] read = await blobs.ReadAllBytesAsync(new BlobAddress(Repository, _descriptor.Digest, _descriptor.Size), 1 << 20);

        Assert.Equal(_blob, read);
        Assert.Equal(1, Assert.IsType<FallbackBlobSource>(blobs).Fallbacks);
    }

    [Fact]
    public void Build_ProxyAndSchedulers_ThrowsOptionsValidation()
    {
        var builder = new ImageAcceleratorBuilder().UseP2P(o =>
        {
            o.Proxy = new Uri("http://127.0.0.1:1/");
            o.Schedulers.Add(new Uri("http://127.0.0.1:2/"));
        }).UseFullPull();

        Assert.Throws<OptionsValidationException>(() => builder.Build());
    }

    [Fact]
    public void Build_SchedulersWithoutDataDirectory_ThrowsOptionsValidation()
    {
        var builder = new ImageAcceleratorBuilder().UseP2P(o => o.Schedulers.Add(new Uri("http://127.0.0.1:2/"))).UseFullPull();

        var ex = Assert.Throws<OptionsValidationException>(() => builder.Build());
        Assert.Contains("P2P peer", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_ConnectTimeoutZero_ThrowsOptionsValidation()
    {
        var builder = new ImageAcceleratorBuilder().UseP2P(o =>
        {
            o.Proxy = new Uri("http://127.0.0.1:1/");
            o.ConnectTimeout = TimeSpan.Zero;
        }).UseFullPull();

        var ex = Assert.Throws<OptionsValidationException>(() => builder.Build());
        Assert.Contains("P2P: ConnectTimeout must be positive.", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UseP2P_InProcessPeer_ReadsThroughSchedulerAndRegistersTask()
    {
        string data = Directory.CreateTempSubdirectory("accel-p2p-inproc-").FullName;
        try
        {
            var schedulerOptions = new Accelerator.P2P.Scheduling.P2PSchedulerServerOptions
            {
                Registry = new RegistryOptions { PlainHttp = true, DockerConfigPath = TestRegistryOptions.NoDockerConfig },
                Scheduler = new Accelerator.P2P.Scheduling.P2PSchedulerOptions { PieceSize = 64 * 1024 },
            };
            schedulerOptions.TrustedRegistries.Add(_registry.Host);
            await using var scheduler = await Accelerator.P2P.Scheduling.P2PSchedulerServer.StartAsync(schedulerOptions);
            await using (var host = new ImageAcceleratorBuilder()
                .AddRegistry(_registry.Host, r => r.PlainHttp = true)
                .ConfigureRegistries(r => r.DockerConfigPath = TestRegistryOptions.NoDockerConfig)
                .UseP2P(o =>
                {
                    o.Schedulers.Add(scheduler.Url);
                    o.Peer.DataDirectory = data;
                })
                .UseFullPull()
                .Build())
            {
                var blobs = BlobsOf(host);
                byte[] read = await blobs.ReadAllBytesAsync(new BlobAddress(Repository, _descriptor.Digest, _descriptor.Size), 1 << 20);

                Assert.Equal(_blob, read);
            }

            var statistics = scheduler.Scheduler.GetStatistics();
            Assert.Equal(1, statistics.TasksCreated);
            Assert.Equal(4, statistics.PiecesFromOrigin);
            Assert.Equal(1, statistics.TasksCompleted);
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
