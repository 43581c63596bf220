using Accelerator.Cli.Commands;
using Accelerator.TestSupport;
using Accelerator.Lazy.Format;
using Accelerator.Lazy.Tests.Support;
using Accelerator.Oci.Layout;
using Accelerator.Oci.Registry;
using Accelerator.Testing.Images;
using Accelerator.Testing.Trees;

namespace Accelerator.Lazy.Tests.Cli;

/// <summary><c>accel convert</c> end to end, in-process, against layouts and a real docker-registry.</summary>
[Collection(LazyCollection.Name)]
public sealed class ConvertCommandTests(LazyFixture fixture)
{
    private static Task<(int ExitCode, string Out, string Error)> RunAsync(params string[] args) => AccelInProcess.RunAsync(args);

    [Fact]
    public async Task Convert_LayoutToLayout_DefaultTargetTagAccel()
    {
        string layout = fixture.NewDirectory("cli-layout");
        await ExternalTool.RunAsync("skopeo", ["copy", fixture.Image.OciReference, $"oci:{layout}:v1"]);

        var (code, output, error) = await RunAsync("convert", $"oci:{layout}:v1");

        Assert.True(code == 0, error);
        Assert.Equal(string.Empty, error);
        Assert.StartsWith($"Converted oci:{layout}:v1 to oci:{layout}:v1-accel (sha256:", output);
        Assert.Contains("bootstrap", output);
        var image = await LazyImage.LoadAsync(OciImageLayout.Open(layout), ImageReference.Parse($"oci:{layout}:v1-accel"));
        string rootfs = fixture.NewDirectory("cli-tree");
        await TreeMaterializer.MaterializeAsync(image, rootfs);
        Assert.Empty(TreeSnapshot.Compare(fixture.ReferenceSnapshot, TreeSnapshot.Capture(rootfs)));

        var inspect = await RunAsync("inspect", $"oci:{layout}:v1-accel");
        Assert.True(inspect.ExitCode == 0, inspect.Error);
        using var json = System.Text.Json.JsonDocument.Parse(inspect.Out);
        Assert.Equal("lazy", json.RootElement.GetProperty("format").GetString());
        Assert.True(json.RootElement.GetProperty("manifest").GetProperty("annotations").TryGetProperty(LazyFormat.SourceDigestAnnotation, out _));
    }

    [Fact]
    public async Task Convert_RegistryToRegistryPlainHttp_WithChunkDictionaryAndPrefetchList()
    {
        await fixture.Image.PushAsync(fixture.Registry.Host, "cli/app", PushManifestFormat.Oci);
        string source = $"{fixture.Registry.Host}/cli/app:{fixture.Image.Tag}";
        string first = $"{fixture.Registry.Host}/cli/app:first-accel";
        string second = $"{fixture.Registry.Host}/cli/other:second-accel";
        string list = Path.Combine(fixture.NewDirectory("prefetch"), "list.txt");
        await File.WriteAllTextAsync(list, $"# recorded start\n/{ConformancePaths.SmallFile}\n\n/{ConformancePaths.LargeFile}\n/not/there\n");

        var one = await RunAsync("convert", "--plain-http", source, first, "--chunk-size", "256K");
        var two = await RunAsync("convert", "--plain-http", "--format", "lazy", source, second, "--chunk-size", "256K", "--chunk-dict", first, "--prefetch-list", list);

        Assert.True(one.ExitCode == 0, one.Error);
        Assert.True(two.ExitCode == 0, two.Error);
        Assert.Contains("reused from", two.Out);
        Assert.Equal("accel: warning: 1 paths of the prefetch list are not in the image; they were skipped.\n", two.Error);
        string raw = await ExternalTool.RunAsync("skopeo", ["inspect", "--tls-verify=false", "--raw", $"docker://{second}"]);
        Assert.Contains(LazyFormat.BootstrapMediaType, raw);
        Assert.Contains(LazyFormat.ChunksMediaType, raw);

        using var client = new RegistryClient(new RegistryOptions { PlainHttp = true });
        var image = await LazyImage.LoadAsync(client.GetStore(fixture.Registry.Host), ImageReference.Parse(second));
        Assert.Equal(256 << 10, image.Bootstrap.ChunkSize);
        Assert.Equal([$"/{ConformancePaths.SmallFile}", $"/{ConformancePaths.LargeFile}"], image.Bootstrap.PrefetchInodes.Select(i => image.Bootstrap.GetEntry(i)!.Path));
        // The second image lists the first one's data blobs, mounted into its own repository.
        Assert.All(image.Image.ImageManifest.Layers.Skip(1), layer => Assert.Equal(LazyFormat.ChunksMediaType, layer.MediaType));
        string rootfs = fixture.NewDirectory("cli-registry-tree");
        await TreeMaterializer.MaterializeAsync(image, rootfs);
        Assert.Empty(TreeSnapshot.Compare(fixture.ReferenceSnapshot, TreeSnapshot.Capture(rootfs)));
    }

    [Fact]
    public async Task Convert_FormatBlockWithChunkSize_OneErrorLineExitOne()
    {
        var (code, output, error) = await RunAsync("convert", "--format", "block", fixture.Image.OciReference, $"oci:{fixture.NewDirectory("block")}:x", "--chunk-size", "1M");

        Assert.Equal(1, code);
        Assert.Equal(string.Empty, output);
        Assert.Equal("accel: error: --chunk-size and --chunk-dict apply to --format lazy; use --block-size with --format block.\n", error);
    }

    [Theory]
    [InlineData("32K")]
    [InlineData("3M")]
    [InlineData("32MiB")]
    [InlineData("lots")]
    public async Task Convert_BadChunkSize_OneErrorLineExitOne(string size)
    {
        var (code, _, error) = await RunAsync("convert", fixture.Image.OciReference, $"oci:{fixture.NewDirectory("bad")}:x", "--chunk-size", size);

        Assert.Equal(1, code);
        Assert.Single(error.TrimEnd('\n').Split('\n'));
        Assert.StartsWith($"accel: error: Invalid --chunk-size '{size}'", error);
    }

    [Theory]
    [InlineData("64K", 64 << 10)]
    [InlineData("1MiB", 1 << 20)]
    [InlineData("16M", 16 << 20)]
    [InlineData("131072", 128 << 10)]
    public void ParseSize_ValidSizes_Bytes(string text, int expected) => Assert.Equal(expected, ConvertCommand.ParseSize(text));

    [Fact]
    public async Task Convert_MissingPrefetchList_OneErrorLine()
    {
        var (code, _, error) = await RunAsync("convert", fixture.Image.OciReference, $"oci:{fixture.NewDirectory("nolist")}:x", "--prefetch-list", "/no/such/list");

        Assert.Equal(1, code);
        Assert.Single(error.TrimEnd('\n').Split('\n'));
        Assert.Contains("/no/such/list", error);
    }
}
