using Accelerator.Block.Conversion;
using Accelerator.Block.Format;
using Accelerator.Block.Layers;
using Accelerator.Block.Tests.Support;
using Accelerator.Oci.Layout;
using Accelerator.Oci.Resolution;
using Accelerator.Testing.Images;
using Accelerator.Testing.Trees;

namespace Accelerator.Block.Tests.Conversion;

/// <summary>
/// The conformance image converted to a block image: the disk reassembled from the blocks alone is a clean ext4 whose
/// loop-mounted tree equals umoci's unpack.
/// </summary>
[Collection(BlockCollection.Name)]
public sealed class BlockConverterConformanceTests(BlockFixture fixture)
{
    // The one item an ext4 image adds and umoci's tree lacks: /lost+found, which e2fsck expects (docs/formats/block.md).
    internal static readonly TreeCompareOptions Ext4Compare = new() { IgnorePath = p => p == "lost+found" };

    [Fact]
    public async Task ConvertAsync_ConformanceImage_ReassembledDiskIsCleanExt4WithUmociTree()
    {
        BlockImage image = await fixture.LoadAsync();
        string work = fixture.NewDirectory("mount");
        string raw = Path.Combine(work, "disk.img");
        await using (BlockLayerStack stack = image.OpenStack(new BlockStackOptions { CacheDirectory = Path.Combine(work, "cache") }))
        {
            await using var file = File.Create(raw);
            byte[] buffer = new byte[1 << 20];
            for (long offset = 0; offset < stack.Size; offset += buffer.Length)
            {
                int n = (int)Math.Min(buffer.Length, stack.Size - offset);
                await stack.ReadAsync(offset, buffer.AsMemory(0, n));
                await file.WriteAsync(buffer.AsMemory(0, n));
            }
        }

        await FileSystemImageBuilder.CheckExt4Async(raw);
        string mountPoint = Directory.CreateDirectory(Path.Combine(work, "root")).FullName;
        await ExternalTool.RunAsync("mount", ["-o", "loop,ro", raw, mountPoint]);
        try
        {
            var differences = TreeSnapshot.Compare(fixture.ReferenceSnapshot, TreeSnapshot.Capture(mountPoint), Ext4Compare);
            Assert.True(differences.Count == 0, "The block image's tree differs from umoci's:\n" + string.Join("\n", differences));
            Assert.True(File.Exists(Path.Combine(mountPoint, "lost+found")) || Directory.Exists(Path.Combine(mountPoint, "lost+found")));
        }
        finally
        {
            await ExternalTool.RunAsync("umount", [mountPoint]);
        }

        Assert.Equal(fixture.Converted.SourceDigest, image.SourceDigest);
        Assert.Equal("ext4", image.FileSystem);
    }

    [Fact]
    public async Task ConvertAsync_ConformanceImage_SkipsZeroBlocksAndKeepsSourceConfig()
    {
        BlockConvertResult result = fixture.Converted;
        BlockImage image = await fixture.LoadAsync();

        Assert.True(result.ZeroBlocks > 0, "free space and holes are zero blocks");
        Assert.Equal(result.Blocks - result.ZeroBlocks, image.Index.Layers[0].Sum(e => e.BlockCount));
        Assert.Equal(result.Blocks - result.ZeroBlocks - result.DuplicateBlocks, image.Index.StoredBlockCount);
        Assert.Equal(BlockFormat.IndexMediaType, image.Image.ImageManifest.Layers[0].MediaType);
        var source = await ImageResolver.ResolveAsync(OciImageLayout.Open(fixture.Image.LayoutPath), ImageReference.Parse(fixture.Image.OciReference));
        Assert.Equal(source.ImageManifest.Config, image.Image.ImageManifest.Config);
        Assert.Equal(source.Manifest.Digest, image.SourceDigest);
    }

    [Fact]
    public async Task ConvertAsync_SameSourceTwice_ByteIdenticalManifest()
    {
        string layout = fixture.NewDirectory("again");

        BlockConvertResult again = await fixture.ConvertAsync(layout, "again", BlockFixture.ConvertOptions with { MaxParallelism = 1 });

        Assert.Equal(fixture.Converted.ManifestDigest, again.ManifestDigest);
    }
}
