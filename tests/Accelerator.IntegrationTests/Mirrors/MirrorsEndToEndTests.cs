using Accelerator.IntegrationTests.Cli;
using Accelerator.Oci.Copying;
using Accelerator.Oci.Layout;
using Accelerator.Oci.Registry;
using Accelerator.Testing.Samples;
using Accelerator.Testing.Registry;
using Accelerator.Testing.Trees;

namespace Accelerator.IntegrationTests.Mirrors;

/// <summary>Two real registries, an origin and a mirror, both holding a generated image.</summary>
public sealed class MirrorRegistriesFixture : IAsyncLifetime
{
    public const string Repository = "e2e/app";

    public DockerRegistryProcess Origin { get; private set; } = null!;

    public DockerRegistryProcess Mirror { get; private set; } = null!;

    public string WorkDirectory { get; } = Directory.CreateTempSubdirectory("accel-mirrors-e2e-").FullName;

    public string Layout => Path.Combine(WorkDirectory, "layout");

    public string Image => $"{Origin.Host}/{Repository}:v1";

    public async Task InitializeAsync()
    {
        var origin = DockerRegistryProcess.StartAsync();
        var mirror = DockerRegistryProcess.StartAsync();
        Origin = await origin;
        Mirror = await mirror;
        await SampleImageGenerator.WriteLayoutAsync(Layout, new SampleImageOptions { LayerCount = 3, TotalSize = 2 << 20, Seed = 21, Tag = "v1" });
        using var client = new RegistryClient(new RegistryOptions { PlainHttp = true, DockerConfigPath = "/nonexistent/config.json" });
        var source = ImageReference.Parse($"oci:{Layout}:v1");
        foreach (var registry in new[] { Origin, Mirror })
        {
            await ImageCopier.CopyAsync(OciImageLayout.Open(Layout), source, client.GetStore(registry.Host), ImageReference.Parse($"{registry.Host}/{Repository}:v1"));
        }
    }

    public async Task DisposeAsync()
    {
        await Origin.DisposeAsync();
        await Mirror.DisposeAsync();
        Directory.Delete(WorkDirectory, recursive: true);
    }
}

/// <summary><c>accel</c> with <c>--mirror</c> and <c>--hosts-dir</c>, and the accelerator with mirrors, end to end.</summary>
public sealed class MirrorsEndToEndTests(MirrorRegistriesFixture fixture) : IClassFixture<MirrorRegistriesFixture>
{
    [Fact]
    public async Task Pull_WithMirror_LayersFromTheMirrorAndTreeAsFromOrigin()
    {
        string viaMirror = Target(), direct = Target();

        var (code, output, error) = await CliRunner.RunAsync("pull", "--plain-http", "--mirror", fixture.Mirror.Url.ToString(), fixture.Image, viaMirror);
        var (directCode, _, directError) = await CliRunner.RunAsync("pull", "--plain-http", fixture.Image, direct);

        Assert.True(code == 0, error);
        Assert.True(directCode == 0, directError);
        Assert.Contains($"Fetched from: mirror:{fixture.Mirror.Host} ", output, StringComparison.Ordinal);
        Assert.DoesNotContain("origin", output.Split('\n')[1], StringComparison.Ordinal);
        Assert.DoesNotContain(TreeSnapshot.Compare(TreeSnapshot.Capture(direct), TreeSnapshot.Capture(viaMirror)), d => d.Path != ".");
    }

    [Fact]
    public async Task Pull_HostsDirectoryWithPlainHttpMirror_UsedWithoutGlobalPlainHttp()
    {
        // Only the mirror is named http://; the origin (the hosts.toml server) is http:// too, for this test registry.
        string hosts = Path.Combine(fixture.WorkDirectory, "hosts-" + Guid.NewGuid().ToString("N"));
        string ns = Path.Combine(hosts, fixture.Origin.Host.Replace(":", "_", StringComparison.Ordinal) + "_");
        Directory.CreateDirectory(ns);
        await File.WriteAllTextAsync(Path.Combine(ns, "hosts.toml"), $"""
            server = "http://{fixture.Origin.Host}"

            [host."http://{fixture.Mirror.Host}"]
              capabilities = ["pull"]
            """);

        var (code, output, error) = await CliRunner.RunAsync("pull", "--hosts-dir", hosts, fixture.Image, Target());

        Assert.True(code == 0, error);
        Assert.Contains($"Fetched from: mirror:{fixture.Mirror.Host} ", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pull_MirrorDown_FallsBackToOrigin()
    {
        var (code, output, error) = await CliRunner.RunAsync("pull", "--plain-http", "--mirror", "http://127.0.0.1:1", fixture.Image, Target());

        Assert.True(code == 0, error);
        Assert.Contains("Fetched from: origin ", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Inspect_WithMirror_SameDigest()
    {
        var (code, output, error) = await CliRunner.RunAsync("inspect", "--plain-http", "--mirror", fixture.Mirror.Url.ToString(), fixture.Image);
        var (_, direct, _) = await CliRunner.RunAsync("inspect", "--plain-http", fixture.Image);

        Assert.True(code == 0, error);
        Assert.Equal(direct, output);
    }

    [Fact]
    public async Task Pull_MalformedHostsFile_OneErrorLineWithFileAndLine()
    {
        string hosts = Path.Combine(fixture.WorkDirectory, "bad-hosts-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(hosts, "docker.io"));
        await File.WriteAllTextAsync(Path.Combine(hosts, "docker.io", "hosts.toml"), "[host.\"https://m.example\"]\nskip_verify = \"maybe\"\n");

        var (code, output, error) = await CliRunner.RunAsync("pull", "--hosts-dir", hosts, fixture.Image, Target());

        Assert.Equal(1, code);
        Assert.Equal(string.Empty, output);
        Assert.Single(error.TrimEnd('\n').Split('\n'));
        Assert.Contains(Path.Combine(hosts, "docker.io", "hosts.toml") + ":2:", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pull_BadMirrorUrl_OneErrorLine()
    {
        var (code, _, error) = await CliRunner.RunAsync("pull", "--mirror", "ftp://mirror.example", fixture.Image, Target());

        Assert.Equal(1, code);
        Assert.Single(error.TrimEnd('\n').Split('\n'));
        Assert.Contains("--mirror", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MountAsync_FullPullWithMirror_StatisticsNameTheMirror()
    {
        await using var accelerator = new ImageAcceleratorBuilder()
            .AddRegistry(fixture.Origin.Host, r => r.PlainHttp = true)
            .AddMirror(fixture.Origin.Host, fixture.Mirror.Url.ToString())
            .UseFullPull()
            .Build();

        await using var mounted = await accelerator.MountAsync(ImageReference.Parse(fixture.Image), Target());

        var sources = mounted.Statistics.BytesFetchedBySource;
        Assert.Equal([$"mirror:{fixture.Mirror.Host}"], sources.Keys);
        Assert.Equal(mounted.Statistics.BytesFetched, sources.Values.Single());
        Assert.True(mounted.Statistics.BytesFetched > 0);
    }

    private string Target() => Path.Combine(fixture.WorkDirectory, "target-" + Guid.NewGuid().ToString("N"));
}
