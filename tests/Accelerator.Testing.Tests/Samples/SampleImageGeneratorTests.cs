using System.Text.Json;
using Accelerator.Testing.Samples;
using Accelerator.Testing.Images;
using Accelerator.Testing.Trees;

namespace Accelerator.Testing.Tests.Samples;

public sealed class SampleImageGeneratorTests : IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("accel-sample-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    [Fact]
    public async Task WriteLayoutAsync_SameSeed_GivesIdenticalBytes()
    {
        var options = new SampleImageOptions { LayerCount = 3, TotalSize = 3 * 1024 * 1024, Seed = 7 };

        var first = await SampleImageGenerator.WriteLayoutAsync(Path.Combine(_temp, "a"), options);
        var second = await SampleImageGenerator.WriteLayoutAsync(Path.Combine(_temp, "b"), options);

        Assert.Equal(first.Manifest, second.Manifest);
        Assert.Equal(Files(first.LayoutPath), Files(second.LayoutPath));
    }

    [Fact]
    public async Task WriteLayoutAsync_OtherSeed_GivesOtherImage()
    {
        var first = await SampleImageGenerator.WriteLayoutAsync(Path.Combine(_temp, "a"), new SampleImageOptions { Seed = 1, TotalSize = 256 * 1024 });
        var second = await SampleImageGenerator.WriteLayoutAsync(Path.Combine(_temp, "b"), new SampleImageOptions { Seed = 2, TotalSize = 256 * 1024 });

        Assert.NotEqual(first.Manifest.Digest, second.Manifest.Digest);
    }

    [Fact]
    public async Task WriteLayoutAsync_Layout_IsAcceptedBySkopeoAndUmoci()
    {
        var options = new SampleImageOptions { LayerCount = 4, TotalSize = 2 * 1024 * 1024, Seed = 3, Tag = "v1" };
        var image = await SampleImageGenerator.WriteLayoutAsync(Path.Combine(_temp, "layout"), options);

        using var inspect = JsonDocument.Parse(await OciLayoutTools.InspectAsync(image.LayoutPath, "v1"));
        Assert.Equal(4, inspect.RootElement.GetProperty("Layers").GetArrayLength());
        Assert.Equal(image.Manifest.Digest.Value, inspect.RootElement.GetProperty("Digest").GetString());

        string rootfs = await OciLayoutTools.UnpackWithUmociAsync(image.LayoutPath, "v1", Path.Combine(_temp, "bundle"));
        var tree = TreeSnapshot.Capture(rootfs);
        var regular = tree.Entries.Values.Where(e => e.Type == TreeEntryType.RegularFile).ToDictionary(e => e.Path, e => e.Size);
        Assert.Equal(image.Files.ToDictionary(f => f.Key, f => f.Value), regular);
        Assert.Equal(options.TotalSize, regular.Values.Sum());
        Assert.All(tree.Entries.Values.Where(e => e.Path != "."), e => Assert.Equal(1_704_067_200_000_000_000L, e.MtimeNanoseconds));
    }

    [Fact]
    public async Task WriteLayoutAsync_MixedContent_CompressesTheTextButNotTheRandomBytes()
    {
        var text = await SampleImageGenerator.WriteLayoutAsync(Path.Combine(_temp, "t"), new SampleImageOptions { LayerCount = 1, TotalSize = 1024 * 1024, CompressibleFraction = 1 });
        var random = await SampleImageGenerator.WriteLayoutAsync(Path.Combine(_temp, "r"), new SampleImageOptions { LayerCount = 1, TotalSize = 1024 * 1024, CompressibleFraction = 0 });

        Assert.True(text.Layers[0].Size < 1024 * 1024 / 2, $"text layer {text.Layers[0].Size} bytes");
        Assert.True(random.Layers[0].Size > 1024 * 1024, $"random layer {random.Layers[0].Size} bytes");
    }

    [Fact]
    public async Task WriteLayoutAsync_InvalidOptions_Throw()
    {
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => SampleImageGenerator.WriteLayoutAsync(_temp, new SampleImageOptions { LayerCount = 0 }));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => SampleImageGenerator.WriteLayoutAsync(_temp, new SampleImageOptions { TotalSize = -1 }));
    }

    private static SortedDictionary<string, string> Files(string root)
        => new(Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(root, f), f => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f)))), StringComparer.Ordinal);
}
