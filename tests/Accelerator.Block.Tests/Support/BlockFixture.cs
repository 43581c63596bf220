using Accelerator.Block.Conversion;
using Accelerator.Block.Format;
using Accelerator.Oci.Layout;
using Accelerator.Testing.Images;
using Accelerator.Testing.Trees;

namespace Accelerator.Block.Tests.Support;

/// <summary>The tests sharing one <see cref="BlockFixture"/>.</summary>
[CollectionDefinition(Name)]
public sealed class BlockCollection : ICollectionFixture<BlockFixture>
{
    public const string Name = "block";
}

/// <summary>
/// The conformance image (built once with umoci), umoci's unpack of it as the reference tree, and its block image
/// converted once into a layout.
/// </summary>
public sealed class BlockFixture : IAsyncLifetime
{
    public const string BlockTag = "conformance-accel-block";

    public string WorkDirectory { get; } = Directory.CreateTempSubdirectory("accel-block-tests-").FullName;

    public ConformanceImage Image { get; private set; } = null!;

    public TreeSnapshot ReferenceSnapshot { get; private set; } = null!;

    public string BlockLayout { get; private set; } = null!;

    public BlockConvertResult Converted { get; private set; } = null!;

    public ImageReference BlockReference => ImageReference.Parse($"oci:{BlockLayout}:{BlockTag}");

    /// <summary>Options every conversion of the fixture uses: a small free space, to keep images small.</summary>
    public static BlockConvertOptions ConvertOptions => new() { FreeBytes = 4 << 20 };

    public string NewDirectory(string name) => Directory.CreateDirectory(Path.Combine(WorkDirectory, name + "-" + Guid.NewGuid().ToString("N")[..8])).FullName;

    public async Task InitializeAsync()
    {
        Image = await ConformanceImage.BuildAsync(WorkDirectory);
        string reference = await Image.UnpackWithUmociAsync(Path.Combine(WorkDirectory, "umoci-bundle"));
        ReferenceSnapshot = TreeSnapshot.Capture(reference);
        BlockLayout = NewDirectory("block-layout");
        Converted = await ConvertAsync(BlockLayout, BlockTag);
    }

    public Task<BlockConvertResult> ConvertAsync(string layout, string tag, BlockConvertOptions? options = null)
    {
        var source = ImageReference.Parse(Image.OciReference);
        return BlockConverter.ConvertAsync(
            OciImageLayout.Open(Image.LayoutPath), source, OciImageLayout.OpenOrCreate(layout), ImageReference.Parse($"oci:{layout}:{tag}"),
            options ?? ConvertOptions);
    }

    public Task<BlockImage> LoadAsync() => BlockImage.LoadAsync(OciImageLayout.Open(BlockLayout), BlockReference);

    public Task DisposeAsync()
    {
        Image?.Dispose();
        Directory.Delete(WorkDirectory, recursive: true);
        return Task.CompletedTask;
    }
}
