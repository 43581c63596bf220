using Accelerator.IntegrationTests.Cli;
using Accelerator.Oci.Copying;
using Accelerator.Oci.Layout;
using Accelerator.Oci.Registry;
using Accelerator.Testing.Samples;
using Accelerator.Testing.Images;
using Accelerator.Testing.Registry;
using Accelerator.Testing;
using Accelerator.Testing.Processes;

namespace Accelerator.IntegrationTests.Replication;

/// <summary><c>accel replicate</c> and <c>accel replicate serve</c> as users run them, against real registries.</summary>
public sealed class ReplicateCommandTests : IAsyncLifetime
{
    private readonly string _work = Directory.CreateTempSubdirectory("accel-it-replicate-").FullName;
    private readonly List<IAsyncDisposable> _owned = [];
    private readonly RegistryClient _client = new(new RegistryOptions
    {
        PlainHttp = true,
        RetryBaseDelay = TimeSpan.FromMilliseconds(20),
        DockerConfigPath = TestRegistryOptions.NoDockerConfig,
    });

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var owned in Enumerable.Reverse(_owned))
        {
            await owned.DisposeAsync();
        }

        _client.Dispose();
        Directory.Delete(_work, recursive: true);
    }

    private async Task<DockerRegistryProcess> RegistryAsync(DockerRegistryOptions? options = null)
    {
        var registry = await DockerRegistryProcess.StartAsync(options);
        _owned.Add(registry);
        return registry;
    }

    private T Own<T>(T process)
        where T : IAsyncDisposable
    {
        _owned.Add(process);
        return process;
    }

    private async Task<SampleImage> SampleAsync(string name, long size, int seed, int layers = 2)
        => await SampleImageGenerator.WriteLayoutAsync(Path.Combine(_work, name), new SampleImageOptions { TotalSize = size, Seed = seed, LayerCount = layers, CompressibleFraction = 0, Tag = "v1" });

    private async Task PushAsync(SampleImage image, string registry, string repository, string tag)
        => await ImageCopier.CopyAsync(OciImageLayout.Open(image.LayoutPath), ImageReference.Parse($"{image.OciReference}"), _client.GetStore(registry), ImageReference.Parse($"{registry}/{repository}:{tag}"));

    private static Task<string> RawAsync(string reference)
        => ExternalTool.RunAsync("skopeo", ["inspect", "--tls-verify=false", "--raw", $"docker://{reference}"]);

    [Fact]
    public async Task Replicate_TwoTargetsThenRerun_TableSaysCopiedThenSkipped()
    {
        var source = await RegistryAsync();
        var a = await RegistryAsync();
        var b = await RegistryAsync();
        var image = await SampleAsync("small", 1 << 20, 1);
        await PushAsync(image, source.Host, "cli/app", "1.0");
        await PushAsync(image, source.Host, "cli/app", "1.0-accel");
        await PushAsync(image, source.Host, "cli/app", "2.0");

        var first = await CliRunner.RunAsync("replicate", "--plain-http", source.Host, a.Host, b.Host, "--filter", "cli/app:1.0");
        var again = await CliRunner.RunAsync("replicate", "--plain-http", source.Host, a.Host, b.Host, "--filter", "cli/app:1.0");

        Assert.True(first.ExitCode == 0, first.Error);
        string[] lines = first.Out.TrimEnd('\n').Split('\n');
        Assert.StartsWith("IMAGE", lines[0], StringComparison.Ordinal);
        Assert.Equal(6, lines.Length);
        Assert.Equal(4, lines[1..^1].Count(l => l.Contains(" copied ", StringComparison.Ordinal)));
        Assert.Contains("4 image(s): 4 copied, 0 skipped, 0 deleted, 0 gone, 0 failed", first.Out, StringComparison.Ordinal);
        Assert.True(again.ExitCode == 0, again.Error);
        Assert.Contains("4 image(s): 0 copied, 4 skipped", again.Out, StringComparison.Ordinal);
        Assert.Contains("0 B (0 bytes) copied in ", again.Out, StringComparison.Ordinal);
        Assert.Equal(string.Empty, again.Error);
        foreach (var target in new[] { a, b })
        {
            Assert.Equal(await RawAsync($"{source.Host}/cli/app:1.0-accel"), await RawAsync($"{target.Host}/cli/app:1.0-accel"));
            Assert.Null(await _client.HeadManifestAsync(target.Host, "cli/app", "2.0"));
        }
    }

    [Fact]
    public async Task Replicate_TargetRefusesPushes_ExitOneAndOneErrorLinePerFailure()
    {
        var source = await RegistryAsync();
        var a = await RegistryAsync();
        var locked = await RegistryAsync(new DockerRegistryOptions { HtpasswdUsers = new Dictionary<string, string> { ["someone"] = "not-us" } });
        var image = await SampleAsync("fail", 256 * 1024, 2);
        await PushAsync(image, source.Host, "fail/app", "v1");
        await PushAsync(image, source.Host, "fail/app", "v2");

        var (code, output, error) = await CliRunner.RunAsync("replicate", "--plain-http", source.Host, a.Host, locked.Host, "--filter", "fail/**");

        Assert.Equal(1, code);
        Assert.Contains("4 image(s): 2 copied, 0 skipped, 0 deleted, 0 gone, 2 failed", output, StringComparison.Ordinal);
        string[] errors = error.TrimEnd('\n').Split('\n');
        Assert.Equal(2, errors.Length);
        Assert.All(errors, line => Assert.StartsWith($"accel: error: {source.Host}/fail/app:v", line, StringComparison.Ordinal));
        Assert.All(errors, line => Assert.Contains($"-> {locked.Host}/fail/app:v", line, StringComparison.Ordinal));
        Assert.All(errors, line => Assert.Contains("401", line, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Replicate_KilledMidCopy_RerunSkipsFinishedBlobsAndCompletes()
    {
        var source = await RegistryAsync();
        var target = await RegistryAsync();
        var image = await SampleAsync("big", 40L << 20, 3, layers: 2);
        await PushAsync(image, source.Host, "big/app", "v1");

        // About 8 s at 5000 KB/s: the config lands at once, the layers are still streaming when the process dies.
        var slow = Own(AccelProcess.Start("replicate", "--plain-http", source.Host, target.Host, "--bandwidth", "5000"));
        await Poll.UntilAsync(async () => await _client.HeadBlobAsync(target.Host, "big/app", image.Config.Digest) is not null, TimeSpan.FromSeconds(30), "the config blob on the target");
        await slow.KillAsync();
        Assert.Null(await _client.HeadManifestAsync(target.Host, "big/app", "v1"));
        Assert.All(image.Layers, layer => Assert.Null(_client.HeadBlobAsync(target.Host, "big/app", layer.Digest).GetAwaiter().GetResult()));

        var (code, output, error) = await AccelProcess.RunAsync("replicate", "--plain-http", source.Host, target.Host);

        Assert.True(code == 0, error);
        // copied/mounted/present: the two layers are sent again, the config is found.
        Assert.Contains(" copied  2/0/1 ", output, StringComparison.Ordinal);
        Assert.Equal(await RawAsync($"{source.Host}/big/app:v1"), await RawAsync($"{target.Host}/big/app:v1"));
        Assert.Equal(image.Manifest.Digest, (await _client.HeadManifestAsync(target.Host, "big/app", "v1"))!.Digest);
    }

    [Fact]
    public async Task Serve_SkopeoCopyPush_ReplicatedToEveryTargetWithoutManualStep()
    {
        int port = LoopbackPorts.Free();
        var registryOptions = new DockerRegistryOptions();
        registryOptions.NotificationEndpoints.Add(new Uri($"http://127.0.0.1:{port}/events"));
        var source = await RegistryAsync(registryOptions);
        var a = await RegistryAsync();
        var b = await RegistryAsync();
        var serve = Own(AccelProcess.Start(
            "replicate", "serve", "--plain-http", "--listen", $"http://127.0.0.1:{port}", "--insecure-no-auth", "--from", source.Host, "--to", a.Host, "--to", $"{b.Host}/mirror", "--data-dir", Path.Combine(_work, "queue")));
        await serve.WaitForOutputAsync("Listening for registry notifications", TimeSpan.FromSeconds(30));
        var image = await SampleAsync("pushed", 2 << 20, 4);

        await ExternalTool.RunAsync("skopeo", ["copy", "--dest-tls-verify=false", image.OciReference, $"docker://{source.Host}/team/app:1.0"]);

        // The tag is linked right after the manifest is stored: wait for the tag to name the digest.
        var digest = image.Manifest.Digest;
        await Poll.UntilAsync(async () => (await _client.HeadManifestAsync(a.Host, "team/app", "1.0"))?.Digest == digest && (await _client.HeadManifestAsync(b.Host, "mirror/team/app", "1.0"))?.Digest == digest, TimeSpan.FromSeconds(30), "the pushed image on both targets");
        Assert.NotNull(await _client.HeadManifestAsync(a.Host, "team/app", digest.ToString()));
        Assert.Equal(await RawAsync($"{source.Host}/team/app:1.0"), await RawAsync($"{b.Host}/mirror/team/app:1.0"));
        using var http = new HttpClient();
        string metrics = await http.GetStringAsync($"http://127.0.0.1:{port}/metrics");
        Assert.Contains("accel_replication_events_queued_total 1\n", metrics, StringComparison.Ordinal);
        Assert.Equal("ok\n", await http.GetStringAsync($"http://127.0.0.1:{port}/healthz"));
    }

    [Fact]
    public async Task Serve_RestartedWithAQueuedEventForADownTarget_ReplicatesItAfterTheRestart()
    {
        int port = LoopbackPorts.Free();
        int targetPort = LoopbackPorts.Free();
        string queue = Path.Combine(_work, "restart-queue");
        var registryOptions = new DockerRegistryOptions();
        registryOptions.NotificationEndpoints.Add(new Uri($"http://127.0.0.1:{port}/events"));
        var source = await RegistryAsync(registryOptions);
        string[] args = ["replicate", "serve", "--plain-http", "--listen", $"http://127.0.0.1:{port}", "--insecure-no-auth", "--from", source.Host, "--to", $"127.0.0.1:{targetPort}", "--data-dir", queue];
        var first = Own(AccelProcess.Start(args));
        await first.WaitForOutputAsync("Listening for registry notifications", TimeSpan.FromSeconds(30));
        var image = await SampleAsync("restart", 1 << 20, 5);
        await ExternalTool.RunAsync("skopeo", ["copy", "--dest-tls-verify=false", image.OciReference, $"docker://{source.Host}/team/restart:v1"]);

        // Acknowledged means on disk: then the process dies while the target is still down.
        await Poll.UntilAsync(() => Task.FromResult(Directory.Exists(queue) && Directory.GetFiles(queue, "*.json").Length == 1), TimeSpan.FromSeconds(30), "the event in the queue");
        await first.KillAsync();
        var target = await RegistryAsync(new DockerRegistryOptions { Port = targetPort });
        var second = Own(AccelProcess.Start(args));

        await Poll.UntilAsync(async () => (await _client.HeadManifestAsync(target.Host, "team/restart", "v1"))?.Digest == image.Manifest.Digest, TimeSpan.FromSeconds(30), "the queued image on the target");
        Assert.NotNull(await _client.HeadManifestAsync(target.Host, "team/restart", image.Manifest.Digest.ToString()));
        await Poll.UntilAsync(() => Task.FromResult(Directory.GetFiles(queue, "*.json").Length == 0), TimeSpan.FromSeconds(10), "the queue emptied");
        Assert.Contains("1 queued event(s) resumed", second.Error, StringComparison.Ordinal);
    }
}
