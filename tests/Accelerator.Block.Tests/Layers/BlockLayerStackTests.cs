using Accelerator.Block.Layers;
using Accelerator.Block.Tests.Support;

namespace Accelerator.Block.Tests.Layers;

public sealed class BlockLayerStackTests
{
    [Fact]
    public async Task ReadAsync_WholeDisk_EqualsRawImageByteForByte()
    {
        using var image = await BlockTestImage.CreateAsync();
        await using BlockLayerStack stack = image.Open();

        Assert.Equal(new FileInfo(image.RawPath).Length, stack.Size);
        Assert.Equal(image.HashRaw(), await BlockTestImage.HashDiskAsync(stack));
        Assert.True(stack.IsReadOnly);
    }
}
