using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using Accelerator.Oci.Registry;
using Accelerator.P2P.Tests.Processes;
using Accelerator.Testing.Registry;

namespace Accelerator.P2P.Tests.Samples;

/// <summary>The scheduler-host sample embeds the scheduler in its own ASP.NET Core host; <c>accel p2p peer</c> processes use it.</summary>
[Collection(ProcessCollection.Name)]
public sealed partial class SchedulerHostSampleTests : IAsyncLifetime
{
    private readonly string _work = Directory.CreateTempSubdirectory("accel-sample-scheduler-").FullName;
    private DockerRegistryProcess _registry = null!;
    private Process? _host;

    public async Task InitializeAsync() => _registry = await DockerRegistryProcess.StartAsync();

    public async Task DisposeAsync()
    {
        if (_host is { HasExited: false })
        {
            _host.Kill(entireProcessTree: true);
            await _host.WaitForExitAsync();
        }

        _host?.Dispose();
        await _registry.DisposeAsync();
        Directory.Delete(_work, recursive: true);
    }

    [Fact]
    public async Task SchedulerHost_TwoPeersPullThroughIt_StatusShowsTheTask()
    {
        byte[] blob = new byte[3 << 20];
        new Random(11).NextBytes(blob);
        var descriptor = Descriptor.FromContent("application/octet-stream", blob);
        using (var client = new RegistryClient(new RegistryOptions { PlainHttp = true, DockerConfigPath = TestRegistryOptions.NoDockerConfig }))
        {
            await client.PushBlobAsync(_registry.Host, "sample/blob", descriptor, new MemoryStream(blob));
        }

        Uri scheduler = await StartHostAsync();
        await using var first = await AccelDaemon.StartPeerAsync(Path.Combine(_work, "peer-1"), [scheduler.ToString()], "--peer-id", "sample-1");
        await using var second = await AccelDaemon.StartPeerAsync(Path.Combine(_work, "peer-2"), [scheduler.ToString()], "--peer-id", "sample-2");
        using var http = new HttpClient();

        foreach (var peer in new[] { first, second })
        {
            byte[] read = await http.GetByteArrayAsync(new Uri(peer.ProxyUrl!, $"v2/sample/blob/blobs/{descriptor.Digest}?ns={_registry.Host}"));
            Assert.Equal(descriptor.Digest, Digest.Parse("sha256:" + Convert.ToHexStringLower(SHA256.HashData(read))));
        }

        using var status = JsonDocument.Parse(await http.GetStringAsync(new Uri(scheduler, "status")));
        Assert.Equal(2, status.RootElement.GetProperty("peers").GetInt32());
        Assert.Equal(1, status.RootElement.GetProperty("tasksCreated").GetInt64());
        Assert.True(status.RootElement.GetProperty("tasksCompleted").GetInt64() >= 2, status.RootElement.ToString());
        Assert.True(status.RootElement.GetProperty("piecesFromParents").GetInt64() >= 1, status.RootElement.ToString());
    }

    private async Task<Uri> StartHostAsync()
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = AppContext.BaseDirectory };
        foreach (string arg in new[] { Path.Combine(AppContext.BaseDirectory, "Accelerator.Samples.SchedulerHost.dll"), "--urls", "http://127.0.0.1:0", $"--Scheduler:TrustedRegistries:0={_registry.Host}", "--plain-http" })
        {
            start.ArgumentList.Add(arg);
        }

        _host = Process.Start(start)!;
        _ = _host.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (await _host.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            if (ReadyLine().Match(line) is { Success: true } match)
            {
                _ = _host.StandardOutput.ReadToEndAsync();
                return new Uri(match.Groups[1].Value + "/");
            }
        }

        throw new InvalidOperationException($"the sample exited with {_host.ExitCode} before it was ready");
    }

    [GeneratedRegex(@"Scheduler host listening on (http://[0-9.:]+)")]
    private static partial Regex ReadyLine();
}
