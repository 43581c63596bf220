using Accelerator.Block.Format;
using Accelerator.Block.Layers;
using Accelerator.Block.Prefetch;
using Accelerator.Block.Tests.Support;
using Accelerator.TestSupport;
using Accelerator.Oci.Layout;
using Accelerator.Oci.Registry;
using Accelerator.Testing.Registry;
using Accelerator.Testing.Images;

namespace Accelerator.Block.Tests.Cli;

/// <summary><c>accel convert --format block</c> end to end, in-process, layout to layout.</summary>
[Collection(BlockCollection.Name)]
public sealed class ConvertBlockCommandTests(BlockFixture fixture)
{
    private static Task<(int ExitCode, string Out, string Error)> RunAsync(params string[] args) => AccelInProcess.RunAsync(args);

    [Fact]
    public async Task Convert_FormatBlock_DefaultTagWithTraceAndInspectSaysBlock()
    {
        string layout = fixture.NewDirectory("cli");
        await ExternalTool.RunAsync("skopeo", ["copy", fixture.Image.OciReference, $"oci:{layout}:v1"]);
        string trace = Path.Combine(layout, "trace.txt");
        long last = fixture.Converted.Index.Layers[0][^1].FirstBlock;
        await File.WriteAllTextAsync(trace, $"# recorded\n{last}\n0\n{long.MaxValue}\n");

        var (code, output, error) = await RunAsync(
            "convert", $"oci:{layout}:v1", "--format", "block", "--filesystem", "ext4", "--block-size", "64K", "--free-space", "4M", "--prefetch-list", trace);

        Assert.True(code == 0, error);
        Assert.StartsWith($"Converted oci:{layout}:v1 to oci:{layout}:v1-accel-block (sha256:", output);
        Assert.Contains("1 entries of the block trace", error);
        BlockImage image = await BlockImage.LoadAsync(OciImageLayout.Open(layout), ImageReference.Parse($"oci:{layout}:v1-accel-block"));
        Assert.Equal([last, 0L], image.Index.Prefetch);
        Assert.Equal(fixture.Converted.Index.ToBytes(), image.Index.WithPrefetch([]).ToBytes());

        var inspect = await RunAsync("inspect", $"oci:{layout}:v1-accel-block");
        Assert.True(inspect.ExitCode == 0, inspect.Error);
        using var json = System.Text.Json.JsonDocument.Parse(inspect.Out);
        Assert.Equal("block", json.RootElement.GetProperty("format").GetString());
    }

    [Fact]
    public async Task Convert_RegistryToRegistry_SameImageAsLayoutAndDiskReadOverHttp()
    {
        await using var registry = await DockerRegistryProcess.StartAsync();
        await fixture.Image.PushAsync(registry.Host, "block/app", PushManifestFormat.Oci);
        string source = $"{registry.Host}/block/app:{fixture.Image.Tag}";

        var (code, output, error) = await RunAsync("convert", "--plain-http", source, "--format", "block", "--filesystem", "ext4", "--free-space", "4M");

        Assert.True(code == 0, error);
        Assert.Contains($"to {source}-accel-block ({fixture.Converted.ManifestDigest})", output);
        using var client = new RegistryClient(new RegistryOptions { PlainHttp = true });
        BlockImage image = await BlockImage.LoadAsync(client.GetStore(registry.Host), ImageReference.Parse($"{source}-accel-block"));
        string work = fixture.NewDirectory("registry");
        await using BlockLayerStack overHttp = image.OpenStack(new BlockStackOptions { CacheDirectory = Path.Combine(work, "http") });
        BlockImage local = await fixture.LoadAsync();
        await using BlockLayerStack fromLayout = local.OpenStack(new BlockStackOptions { CacheDirectory = Path.Combine(work, "layout") });
        Assert.Equal(await BlockTestImage.HashDiskAsync(fromLayout), await BlockTestImage.HashDiskAsync(overHttp));
        Assert.True(overHttp.Statistics.Requests < image.Index.StoredBlockCount, $"{overHttp.Statistics.Requests} ranged requests for {image.Index.StoredBlockCount} blocks");
    }

    [Fact]
    public async Task Convert_FormatBlockBadBlockSize_OneErrorLine()
    {
        var (code, _, error) = await RunAsync("convert", fixture.Image.OciReference, "--format", "block", "--block-size", "3000");

        Assert.Equal(1, code);
        Assert.Contains("--block-size", error);
        Assert.Single(error.Trim().Split('\n'));
    }

    [Fact]
    public async Task Convert_FormatBlockErofs_MountableTreeWithNanosecondMtimes()
    {
        string layout = fixture.NewDirectory("erofs");
        var (code, _, error) = await RunAsync("convert", fixture.Image.OciReference, $"oci:{layout}:erofs", "--format", "block", "--filesystem", "erofs");
        Assert.True(code == 0, error);
        BlockImage image = await BlockImage.LoadAsync(OciImageLayout.Open(layout), ImageReference.Parse($"oci:{layout}:erofs"));
        Assert.Equal("erofs", image.FileSystem);

        string work = fixture.NewDirectory("erofs-mount");
        string raw = Path.Combine(work, "disk.img");
        await using (BlockLayerStack stack = image.OpenStack(new BlockStackOptions { CacheDirectory = Path.Combine(work, "cache") }))
        {
            await using var file = File.Create(raw);
            byte[] buffer = new byte[stack.Size];
            await stack.ReadAsync(0, buffer);
            await file.WriteAsync(buffer);
        }

        string mountPoint = Directory.CreateDirectory(Path.Combine(work, "root")).FullName;
        await ExternalTool.RunAsync("mount", ["-t", "erofs", "-o", "loop,ro", raw, mountPoint]);
        try
        {
            var differences = Accelerator.Testing.Trees.TreeSnapshot.Compare(fixture.ReferenceSnapshot, Accelerator.Testing.Trees.TreeSnapshot.Capture(mountPoint));
            Assert.True(differences.Count == 0, "The EROFS image's tree differs from umoci's:\n" + string.Join("\n", differences));
        }
        finally
        {
            await ExternalTool.RunAsync("umount", [mountPoint]);
        }
    }
}
