using System.Text.Json;
using Accelerator.Block.Disks;
using Accelerator.Block.Nbd;
using Accelerator.Block.Nbd.Protocol;
using Accelerator.Block.Tests.Support;
using Accelerator.TestSupport;
using Accelerator.Testing;
using Accelerator.Testing.Processes;

namespace Accelerator.Block.Tests.Issues;

/// <summary>
/// Issue 12, B11: NBD STARTTLS in FORCEDTLS mode, against real clients (nbdcopy, nbdinfo, qemu-img) with x509 files,
/// with and without client certificates, and through <c>accel block serve --tls-cert/--tls-key/--tls-client-ca</c>.
/// </summary>
public sealed class Issue12_NbdTlsTests : IAsyncLifetime
{
    private readonly TempDirectory _directory = new();
    private TlsCertificates _certificates = null!;
    private string _image = string.Empty;
    private FileVirtualDisk _disk = null!;

    private string SocketPath => _directory.Combine("tls.sock");

    public Task InitializeAsync()
    {
        _image = RawImages.CreateRandom(_directory.Combine("d.img"), 4 * 1024 * 1024, seed: 121);
        _disk = FileVirtualDisk.Open(_image);
        _certificates = TlsCertificates.Create(_directory.Combine("pki"));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _disk.DisposeAsync();
        _directory.Dispose();
    }

    [Fact]
    public async Task Handshake_TlsConfiguredOptionsBeforeStartTls_TlsRequiredAndExportNameEndsSession()
    {
        await using var server = await StartAsync(clientCa: false);
        await using (var client = await RawNbdClient.ConnectAsync(SocketPath))
        {
            await client.GreetAsync();
            await client.SendOptionAsync(NbdOption.List, []);
            Assert.Equal(NbdOptionReplyType.ErrorTlsRequired, (await client.ReadOptionReplyAsync()).Header.Type);
            var go = new NbdInfoRequest("d", []);
            byte[] data = new byte[go.Length];
            go.Write(data);
            await client.SendOptionAsync(NbdOption.Go, data);
            Assert.Equal(NbdOptionReplyType.ErrorTlsRequired, (await client.ReadOptionReplyAsync()).Header.Type);
            await client.SendOptionAsync(NbdOption.StartTls, [1]);
            Assert.Equal(NbdOptionReplyType.ErrorInvalid, (await client.ReadOptionReplyAsync()).Header.Type);

            await client.SendOptionAsync(NbdOption.ExportName, "d"u8.ToArray());

            Assert.True(await client.ClosedByServerAsync());
        }

        Assert.Equal(0, server.Statistics.Requests);
    }

    [Fact]
    public async Task Nbdcopy_NbdsUriWithServerCertificate_HasImageSha256_PlainClientRefused()
    {
        await using var server = await StartAsync(clientCa: false);
        int port = server.Endpoints.Single(e => !e.IsUnix).Port;
        string copy = _directory.Combine("copy.img");

        await Tool.CheckAsync("nbdcopy", $"nbds://127.0.0.1:{port}/d?tls-certificates={_certificates.AnonymousClientDirectory}", copy);

        Assert.Equal(RawImages.Sha256(_image), RawImages.Sha256(copy));
        var plain = await Tool.RunAsync("nbdinfo", $"nbd://127.0.0.1:{port}/d");
        Assert.NotEqual(0, plain.ExitCode);
    }

    [Fact]
    public async Task QemuImgInfo_TlsCredsWithClientCertificate_ReportsSize_ClientWithoutOrForeignCertificateRefused()
    {
        await using var server = await StartAsync(clientCa: true);
        int port = server.Endpoints.Single(e => !e.IsUnix).Port;

        string json = await Tool.CheckAsync("qemu-img", "info", "--output=json", "--object", $"tls-creds-x509,id=tls0,dir={_certificates.ClientDirectory},endpoint=client",
            "--image-opts", $"driver=nbd,host=127.0.0.1,port={port},export=d,tls-creds=tls0");

        using var document = JsonDocument.Parse(json);
        Assert.Equal(_disk.Size, document.RootElement.GetProperty("virtual-size").GetInt64());
        await Tool.CheckAsync("nbdinfo", $"nbds+unix:///d?socket={SocketPath}&tls-certificates={_certificates.ClientDirectory}&tls-hostname=localhost");
        foreach (string refused in new[] { _certificates.AnonymousClientDirectory, _certificates.ForeignClientDirectory })
        {
            var result = await Tool.RunAsync("nbdinfo", $"nbds://127.0.0.1:{port}/d?tls-certificates={refused}");
            Assert.NotEqual(0, result.ExitCode);
        }
    }

    [Fact]
    public async Task BlockServe_TlsFlags_NbdcopyOverTlsEqualsImage_PlainClientRefused()
    {
        int port = LoopbackPorts.Free();
        File.SetUnixFileMode(_certificates.ServerKeyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        await using var accel = AccelProcess.Start("block", "serve", "file:" + _image, "--nbd", $"tcp://127.0.0.1:{port}", "--name", "root",
            "--tls-cert", _certificates.ServerCertificatePath, "--tls-key", _certificates.ServerKeyPath, "--tls-client-ca", _certificates.CaPath);
        await accel.WaitUntilAsync(() => accel.Output.Contains("Stop with Ctrl+C", StringComparison.Ordinal));
        string copy = _directory.Combine("cli-copy.img");

        Assert.Contains($"nbds://127.0.0.1:{port}/root", accel.Output, StringComparison.Ordinal);
        Assert.Contains("readable by other users", accel.Error, StringComparison.Ordinal);
        await Tool.CheckAsync("nbdcopy", $"nbds://127.0.0.1:{port}/root?tls-certificates={_certificates.ClientDirectory}", copy);
        Assert.Equal(RawImages.Sha256(_image), RawImages.Sha256(copy));
        Assert.NotEqual(0, (await Tool.RunAsync("nbdinfo", $"nbd://127.0.0.1:{port}/root")).ExitCode);
        Assert.NotEqual(0, (await Tool.RunAsync("nbdinfo", $"nbds://127.0.0.1:{port}/root?tls-certificates={_certificates.AnonymousClientDirectory}")).ExitCode);

        Assert.Equal(0, await accel.TerminateAsync());
    }

    [Fact]
    public async Task BlockServe_TlsCertWithoutKey_OneErrorLine()
    {
        var (code, _, error) = await AccelInProcess.RunAsync("block", "serve", "file:" + _image, "--nbd", "unix:" + SocketPath, "--tls-cert", _certificates.ServerCertificatePath);

        Assert.Equal(1, code);
        Assert.Single(error.Trim().Split('\n'));
        Assert.Contains("--tls-key", error, StringComparison.Ordinal);
    }

    private async Task<NbdServer> StartAsync(bool clientCa)
    {
        var tls = NbdTlsOptions.FromPemFiles(_certificates.ServerCertificatePath, _certificates.ServerKeyPath, clientCa ? _certificates.CaPath : null);
        var server = new NbdServer([new NbdExport("d", _disk)], new NbdServerOptions { Tls = tls });
        await server.ListenAsync(NbdEndpoint.Unix(SocketPath));
        await server.ListenAsync(NbdEndpoint.Tcp("127.0.0.1", 0));
        return server;
    }
}
