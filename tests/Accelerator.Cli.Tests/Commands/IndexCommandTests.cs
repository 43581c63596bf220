using System.Text.Json;
using Accelerator.Oci.Layout;
using Accelerator.Seekable.Index;
using Accelerator.Testing.Samples;

namespace Accelerator.Cli.Tests.Commands;

/// <summary>
/// <c>accel index</c> on a generated image in an OCI layout (the layout lists referrers itself, as the referrers API
/// does): the report, the artifact found again, the flags' bounds.
/// </summary>
public sealed class IndexCommandTests : IAsyncLifetime
{
    private readonly string _work = Directory.CreateTempSubdirectory("accel-index-cli-").FullName;
    private SampleImage _image = null!;

    public async Task InitializeAsync()
        => _image = await SampleImageGenerator.WriteLayoutAsync(
            Path.Combine(_work, "layout"), new SampleImageOptions { LayerCount = 3, TotalSize = 3 << 20, Seed = 16, Tag = "v1" });

    public Task DisposeAsync()
    {
        Directory.Delete(_work, recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Index_LayoutWithPrefetchList_ReportsEachLayerAndPublishesTheArtifact()
    {
        string listed = "/" + _image.Files[0].Key.TrimStart('/');
        string list = Path.Combine(_work, "prefetch.txt");
        await File.WriteAllTextAsync(list, $"# first reads\n{listed}\n/not/in/the/image\n");

        var run = await Accel.RunAsync("index", _image.OciReference, "--min-layer-size", "0", "--span-size", "64K", "--prefetch-list", list);

        Assert.True(run.ExitCode == 0, run.ToString());
        var lines = run.Out.TrimEnd('\n').Split('\n');
        Assert.Equal(3, lines.Count(l => l.StartsWith("layer ", StringComparison.Ordinal) && l.Contains("-index, ", StringComparison.Ordinal)));
        Assert.Contains(lines, l => l.StartsWith("total: index ", StringComparison.Ordinal) && l.Contains("% of the image", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("start read: 1 listed file ", StringComparison.Ordinal) && l.Contains("(1 listed paths not in an indexed layer)", StringComparison.Ordinal));
        Assert.EndsWith("(referrers API).", lines[^1], StringComparison.Ordinal);
        var layout = OciImageLayout.Open(_image.LayoutPath);
        var image = ImageReference.Parse(_image.OciReference);
        var (artifact, _) = await SeekableIndexFinder.FindAsync(layout, image, (await layout.GetManifestAsync(image)).Descriptor);
        Assert.NotNull(artifact);
        Assert.Equal(3, artifact.LayerIndexes.Count);
        Assert.Equal([listed, "/not/in/the/image"], await artifact.ReadPrefetchListAsync());
        Assert.Contains(artifact.Digest.ToString(), lines[^1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Index_LayersBelowTheMinimumSize_EachNamedAndNothingPushed()
    {
        var run = await Accel.RunAsync("index", _image.OciReference, "--min-layer-size", "64M", "--json");

        Assert.True(run.ExitCode == 0, run.ToString());
        using var json = JsonDocument.Parse(run.Out);
        Assert.Equal(JsonValueKind.Null, json.RootElement.GetProperty("artifact").ValueKind);
        var layers = json.RootElement.GetProperty("layers").EnumerateArray().ToList();
        Assert.Equal(3, layers.Count);
        Assert.All(layers, l => Assert.Contains("smaller than --min-layer-size", l.GetProperty("reason").GetString(), StringComparison.Ordinal));
        Assert.Equal(0, json.RootElement.GetProperty("indexBytes").GetInt64());
        Assert.Single((await OciImageLayout.Open(_image.LayoutPath).GetIndexAsync()).Manifests);
    }

    [Theory]
    [InlineData("--span-size", "1K")]
    [InlineData("--span-size", "64M")]
    [InlineData("--min-layer-size", "lots")]
    public async Task Index_FlagOutOfRange_OneErrorLine(string flag, string value)
    {
        var run = await Accel.RunAsync("index", _image.OciReference, flag, value);

        Assert.Equal(1, run.ExitCode);
        string line = Assert.Single(run.ErrorLines);
        Assert.Contains(flag, line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_Index_ListsItsOptions()
    {
        var run = await Accel.RunAsync("index", "--help");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.All(["--min-layer-size", "--span-size", "--prefetch-list", "--json", "--plain-http", "--platform"], o => Assert.Contains(o, run.Out, StringComparison.Ordinal));
    }
}
