using System.Text.Json;
using Accelerator.Testing.Images;
using Accelerator.Testing.Trees;

namespace Accelerator.IntegrationTests.Cli;

/// <summary>The <c>accel</c> commands against a real docker-registry.</summary>
public sealed class CliCommandTests(ConformanceImageFixture fixture) : IClassFixture<ConformanceImageFixture>
{
    private string Ref(string repository) => fixture.Reference(repository).ToString();

    [Fact]
    public async Task Pull_FromRegistry_WritesTreeEqualToUmoci()
    {
        string target = Path.Combine(fixture.WorkDirectory, "cli-pull");

        var (code, output, error) = await CliRunner.RunAsync("pull", "--plain-http", Ref(ConformanceImageFixture.DockerRepository), target);

        Assert.True(code == 0, error);
        Assert.StartsWith("Pulled ", output);
        Assert.Equal(string.Empty, error);
        Assert.Empty(TreeSnapshot.Compare(TreeSnapshot.Capture(fixture.ReferenceRootfs), TreeSnapshot.Capture(target)));
    }

    [Fact]
    public async Task Pull_BadReference_OneErrorLineAndExitOne()
    {
        var (code, output, error) = await CliRunner.RunAsync("pull", "Not/A/Valid:Ref:", Path.Combine(fixture.WorkDirectory, "never"));

        Assert.Equal(1, code);
        Assert.Equal(string.Empty, output);
        Assert.Single(error.TrimEnd('\n').Split('\n'));
        Assert.StartsWith("accel: error: Invalid image reference", error);
        Assert.False(Directory.Exists(Path.Combine(fixture.WorkDirectory, "never")));
    }

    [Fact]
    public async Task Pull_MissingRepository_OneErrorLine()
    {
        var (code, _, error) = await CliRunner.RunAsync("pull", "--plain-http", $"{fixture.Registry.Host}/no/such:tag", Path.Combine(fixture.WorkDirectory, "missing"));

        Assert.Equal(1, code);
        Assert.Single(error.TrimEnd('\n').Split('\n'));
        Assert.StartsWith("accel: error:", error);
        Assert.False(Directory.Exists(Path.Combine(fixture.WorkDirectory, "missing")));
    }

    [Fact]
    public async Task Pull_WithoutPlainHttp_RefusesHttpRegistry()
    {
        var (code, _, error) = await CliRunner.RunAsync("pull", Ref(ConformanceImageFixture.OciRepository), Path.Combine(fixture.WorkDirectory, "https-only"));

        Assert.Equal(1, code);
        Assert.Single(error.TrimEnd('\n').Split('\n'));
        Assert.False(Directory.Exists(Path.Combine(fixture.WorkDirectory, "https-only")));
    }

    [Fact]
    public async Task Inspect_Registry_PrintsManifestConfigAndLayers()
    {
        var (code, output, error) = await CliRunner.RunAsync("inspect", "--plain-http", Ref(ConformanceImageFixture.OciRepository));

        Assert.True(code == 0, error);
        using var json = JsonDocument.Parse(output);
        var root = json.RootElement;
        Assert.Equal(3, root.GetProperty("layers").GetArrayLength());
        Assert.Equal("oci", root.GetProperty("format").GetString());
        string raw = await ExternalTool.RunAsync("skopeo", ["inspect", "--tls-verify=false", "--raw", $"docker://{Ref(ConformanceImageFixture.OciRepository)}"]);
        Assert.Equal(Digest.Compute(System.Text.Encoding.UTF8.GetBytes(raw)).ToString(), root.GetProperty("digest").GetString());
    }

    [Fact]
    public async Task Copy_RegistryToLayoutToRegistry_KeepsManifestDigest()
    {
        string layout = Path.Combine(fixture.WorkDirectory, "copy-layout");
        string source = Ref(ConformanceImageFixture.OciRepository);
        string target = $"{fixture.Registry.Host}/copied/back:v1";

        var toLayout = await CliRunner.RunAsync("copy", "--plain-http", source, $"oci:{layout}:v1");
        var back = await CliRunner.RunAsync("copy", "--plain-http", $"oci:{layout}:v1", target);
        var again = await CliRunner.RunAsync("copy", "--plain-http", $"oci:{layout}:v1", target);

        Assert.True(toLayout.ExitCode == 0, toLayout.Error);
        Assert.True(back.ExitCode == 0, back.Error);
        Assert.Contains("0 already there", back.Out);
        Assert.Contains("0 blobs copied", again.Out);
        string original = await ExternalTool.RunAsync("skopeo", ["inspect", "--tls-verify=false", "--raw", $"docker://{source}"]);
        string copied = await ExternalTool.RunAsync("skopeo", ["inspect", "--tls-verify=false", "--raw", $"docker://{target}"]);
        Assert.Equal(original, copied);
        await ExternalTool.RunAsync("skopeo", ["inspect", $"oci:{layout}:v1"]);
    }

    [Fact]
    public async Task Demo_AsRoot_RunsEveryStrategyWithFigures()
    {
        var (code, output, error) = await CliRunner.RunAsync("demo", "--size-mb", "8", "--layers", "2");

        Assert.True(code == 0, error + output);
        Assert.Contains("Built sample image", output);
        Assert.Matches(@"(?m)^strategy\s+\| time to ready\s+\| bytes fetched\s+\| bytes read\s+\| registry bytes\s+\| note$", output);
        var rows = output.Split('\n')
            .Select(line => line.Split('|').Select(cell => cell.Trim()).ToArray())
            .Where(cells => cells.Length == 6)
            .ToDictionary(cells => cells[0], StringComparer.Ordinal);
        foreach (string strategy in new[] { "full", "mirrors", "p2p", "lazy", "block", "cache" })
        {
            // This machine runs the tests as root with FUSE, loop devices and e2fsprogs: nothing may be skipped.
            var cells = Assert.Contains(strategy, rows);
            Assert.Matches(@"^\d+(\.\d\d s| ms)$", cells[1]);
            if (strategy != "cache")
            {
                // A cache mount clones what was warmed ahead: it fetches nothing itself.
                Assert.True(IsNonZeroSize(cells[2]), $"{strategy}: bytes fetched {cells[2]}");
            }

            Assert.True(IsNonZeroSize(cells[3]), $"{strategy}: bytes read {cells[3]}");
            // A cache mount by tag only asks the registry where the tag points (one HEAD, no body): no registry bytes.
            Assert.True(IsNonZeroSize(cells[4]) == (strategy != "cache"), $"{strategy}: registry bytes {cells[4]}");
            Assert.DoesNotContain("skipped", cells[5]);
            Assert.DoesNotContain("failed", cells[5]);
        }

        // Every strategy read the same files; P2P peers shared the image so the registry served about one copy.
        Assert.Single(rows.Where(r => r.Key != "strategy").Select(r => r.Value[3]).Distinct());
        Assert.Matches(@"\(1\.0\d image copies from the registry\)", rows["p2p"][5]);
        Assert.Contains("6 of 6 strategies ran", output);
    }

    [Fact]
    public async Task Demo_AsAnotherUser_SkipsWhatNeedsRootWithTheReasonAndSucceeds()
    {
        var (code, output, error) = await CliRunner.RunProcessAsync(
            ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "env", "HOME=/tmp", "DOTNET_CLI_HOME=/tmp"],
            "demo", "--size-mb", "4", "--layers", "2");

        Assert.True(code == 0, error + output);
        foreach (string strategy in new[] { "full", "mirrors", "p2p" })
        {
            Assert.Matches($@"(?m)^{strategy}\s+\| \d+(\.\d\d s| ms)\s+\|", output);
        }

        foreach (string strategy in new[] { "lazy", "block", "cache" })
        {
            Assert.Matches($@"(?m)^{strategy}\s+\| -\s+\| -\s+\| -\s+\| -\s+\| skipped: .+ needs root$", output);
        }

        Assert.Contains("3 of 6 strategies ran", output);
    }

    private static bool IsNonZeroSize(string cell)
        => System.Text.RegularExpressions.Regex.IsMatch(cell, @"^\d+(\.\d)? (B|KiB|MiB|GiB)$") && !cell.StartsWith("0 B", StringComparison.Ordinal) && cell != "0.0 KiB";

    [Fact]
    public async Task Process_Failure_ExitsNonZeroWithOneLine()
    {
        var (code, output, error) = await CliRunner.RunProcessAsync("inspect", "oci:/nonexistent/layout:tag");

        Assert.Equal(1, code);
        Assert.Equal(string.Empty, output);
        Assert.Single(error.TrimEnd('\n').Split('\n'));
        Assert.StartsWith("accel: error:", error);
    }
}
