using System.Net;
using System.Security.Cryptography.X509Certificates;
using Accelerator.Hosting;
using Accelerator.Oci.Registry;
using Accelerator.Replication;
using Accelerator.Oci.Tests.Layout;
using Accelerator.Oci.Tests.Registry;
using Accelerator.Testing.Tls;

namespace Accelerator.Hosting.Tests.Issues;

/// <summary>
/// Issue 12, B9: every listener (here the replication service's, through the shared Kestrel listener) refused https
/// URLs, so tokens and credentials crossed the network in clear text.
/// </summary>
public sealed class Issue12_TlsListenerTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly TestCertificateAuthority _authority = TestCertificateAuthority.Create();
    private readonly RegistryClient _client = new(RegistryFixture.Options());

    public void Dispose()
    {
        _client.Dispose();
        _authority.Dispose();
        _dir.Dispose();
    }

    private string PathOf(string name) => System.IO.Path.Combine(_dir.Path, name);

    private ListenerTlsOptions WriteServerCertificate(X509Certificate2 certificate)
    {
        TestCertificateAuthority.WritePem(certificate, PathOf("server.crt"), PathOf("server.key"));
        return new ListenerTlsOptions { CertificateFile = PathOf("server.crt"), KeyFile = PathOf("server.key") };
    }

    private Task<ReplicationService> StartAsync(ListenerTlsOptions tls)
    {
        var options = new ReplicationServiceOptions
        {
            Listen = new Uri("https://127.0.0.1:0"),
            Tls = tls,
            DataDirectory = PathOf("queue"),
            BearerToken = "issue12-tls",
        };
        options.SourceRegistries.Add("127.0.0.1:1");
        var replication = new ReplicationOptions();
        replication.Targets.Add(ReplicationEndpoint.Parse("127.0.0.1:2"));
        return ReplicationService.StartAsync(new Replicator(_client, replication), options);
    }

    [Fact]
    public async Task StartAsync_HttpsListenerWithCertificate_ServesOverTls()
    {
        using var certificate = _authority.IssueServer();
        await using var service = await StartAsync(WriteServerCertificate(certificate));
        string? seen = null;
        using var http = _authority.CreateClient(onServerCertificate: c => seen = c.Thumbprint);

        string health = await http.GetStringAsync(new Uri(service.Url, "healthz"));

        Assert.Equal("ok\n", health);
        Assert.Equal(Uri.UriSchemeHttps, service.Url.Scheme);
        Assert.Equal(certificate.Thumbprint, seen);
    }

    [Fact]
    public async Task HttpsListener_CertificateFilesReplaced_NextHandshakeServesTheNewCertificate()
    {
        using var first = _authority.IssueServer("first");
        using var second = _authority.IssueServer("second");
        await using var service = await StartAsync(WriteServerCertificate(first));
        string? seen = null;
        using var http = _authority.CreateClient(onServerCertificate: c => seen = c.Thumbprint);
        await http.GetStringAsync(new Uri(service.Url, "healthz"));
        Assert.Equal(first.Thumbprint, seen);

        WriteServerCertificate(second);
        await http.GetStringAsync(new Uri(service.Url, "healthz"));

        Assert.Equal(second.Thumbprint, seen);
    }

    [Fact]
    public async Task HttpsListener_ClientAuthorityRequired_RefusesClientsWithoutATrustedCertificate()
    {
        using var server = _authority.IssueServer();
        using var client = _authority.IssueClient();
        using var stranger = TestCertificateAuthority.Create("someone else's CA");
        using var strangerClient = stranger.IssueClient();
        var tls = WriteServerCertificate(server);
        tls.ClientCertificateAuthorityFile = _authority.WriteCertificate(PathOf("ca.crt"));
        await using var service = await StartAsync(tls);
        using var anonymous = _authority.CreateClient();
        using var untrusted = _authority.CreateClient(strangerClient);
        using var trusted = _authority.CreateClient(client);

        await Assert.ThrowsAsync<HttpRequestException>(() => anonymous.GetStringAsync(new Uri(service.Url, "healthz")));
        await Assert.ThrowsAsync<HttpRequestException>(() => untrusted.GetStringAsync(new Uri(service.Url, "healthz")));
        Assert.Equal("ok\n", await trusted.GetStringAsync(new Uri(service.Url, "healthz")));
    }

    [Fact]
    public async Task StartAsync_HttpsWithoutCertificate_ArgumentException()
    {
        var options = new ReplicationServiceOptions { Listen = new Uri("https://127.0.0.1:0"), DataDirectory = PathOf("queue"), BearerToken = "t" };
        options.SourceRegistries.Add("127.0.0.1:1");

        var replication = new ReplicationOptions();
        replication.Targets.Add(ReplicationEndpoint.Parse("127.0.0.1:2"));

        var error = await Assert.ThrowsAsync<ArgumentException>(() => ReplicationService.StartAsync(new Replicator(_client, replication), options));

        Assert.Contains("--tls-cert", error.Message, StringComparison.Ordinal);
    }
}
