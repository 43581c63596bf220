using System.Security.Cryptography.X509Certificates;
using Accelerator.Hosting;
using Accelerator.P2P.Peers;
using Accelerator.P2P.Tests.Infrastructure;
using Accelerator.Testing.Tls;

namespace Accelerator.P2P.Tests.Issues;

/// <summary>
/// Issue 12, B9: the scheduler and peers served only plain HTTP (registrations carry registry credentials, piece
/// requests carry task tokens); now every listener serves TLS, and mutual TLS keeps out whoever holds no certificate.
/// </summary>
public sealed class Issue12_MutualTlsTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("accel-p2p-tls-").FullName;
    private readonly TestCertificateAuthority _authority = TestCertificateAuthority.Create();
    private readonly X509Certificate2 _node;
    private readonly X509Certificate2 _client;

    public Issue12_MutualTlsTests()
    {
        // One certificate per node, for both its listener and its requests (server and client authentication).
        _node = _authority.IssueServer("node");
        _client = _authority.IssueClient("operator");
        TestCertificateAuthority.WritePem(_node, PathOf("node.crt"), PathOf("node.key"));
        _authority.WriteCertificate(PathOf("ca.crt"));
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        _client.Dispose();
        _node.Dispose();
        _authority.Dispose();
        Directory.Delete(_dir, recursive: true);
        return Task.CompletedTask;
    }

    private string PathOf(string name) => Path.Combine(_dir, name);

    private ListenerTlsOptions ServerTls() => new()
    {
        CertificateFile = PathOf("node.crt"),
        KeyFile = PathOf("node.key"),
        ClientCertificateAuthorityFile = PathOf("ca.crt"),
    };

    private ClientTlsOptions ClientTls() => new()
    {
        CertificateAuthorityFile = PathOf("ca.crt"),
        CertificateFile = PathOf("node.crt"),
        KeyFile = PathOf("node.key"),
    };

    [Fact]
    public async Task PeersAndScheduler_OverMutualTls_TransferTheBlobBetweenPeers()
    {
        await using var registry = await CountingRegistry.StartAsync();
        await using var cluster = new P2PCluster([registry.Host]);
        byte[] content = P2PCluster.MakeContent(1024 * 1024, 1201);
        var blob = registry.Put("issue12/mtls", content);
        var scheduler = await cluster.StartSchedulerAsync(o =>
        {
            o.Listen = new Uri("https://127.0.0.1:0");
            o.Tls = ServerTls();
        });
        void Secure(P2PPeerOptions o)
        {
            o.Listen = new Uri("https://127.0.0.1:0");
            o.Tls = ServerTls();
            o.ClientTls = ClientTls();
        }

        var first = await cluster.StartPeerAsync("first", configure: Secure);
        var second = await cluster.StartPeerAsync("second", configure: Secure);

        Assert.Equal(blob.Digest, await P2PCluster.PullAsync(first, registry.Host, blob));
        Assert.Equal(blob.Digest, await P2PCluster.PullAsync(second, registry.Host, blob));

        Assert.Equal(Uri.UriSchemeHttps, scheduler.Url.Scheme);
        Assert.Equal(Uri.UriSchemeHttps, second.Url.Scheme);
        Assert.True(second.GetStatistics().PiecesFromPeers > 0, "the second peer read nothing from the first");
        Assert.Equal(content.Length, registry.BytesServed);
    }

    [Fact]
    public async Task Scheduler_MutualTls_RefusesAClientWithoutCertificate()
    {
        await using var cluster = new P2PCluster();
        var scheduler = await cluster.StartSchedulerAsync(o =>
        {
            o.Listen = new Uri("https://127.0.0.1:0");
            o.Tls = ServerTls();
        });
        using var anonymous = _authority.CreateClient();
        using var holder = _authority.CreateClient(_client);

        await Assert.ThrowsAsync<HttpRequestException>(() => anonymous.GetStringAsync(new Uri(scheduler.Url, "metrics")));
        Assert.Contains("# TYPE", await holder.GetStringAsync(new Uri(scheduler.Url, "metrics")), StringComparison.Ordinal);
    }
}
