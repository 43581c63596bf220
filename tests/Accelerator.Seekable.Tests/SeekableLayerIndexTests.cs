using Accelerator.Seekable;

namespace Accelerator.Seekable.Tests;

public sealed class SeekableLayerIndexTests
{
    private static readonly Descriptor Layer = new("application/vnd.oci.image.layer.v1.tar+gzip", Digest.Compute("layer"u8), 1000);

    [Fact]
    public void FindUnit_OffsetsInsideAndBetweenUnits_FindsTheHolderOrNone()
    {
        var index = new TestIndex(Layer, [Unit(0, 0, 10), Unit(10, 10, 5), Unit(20, 20, 10)]);

        Assert.Equal(0, index.FindUnit(0));
        Assert.Equal(0, index.FindUnit(9));
        Assert.Equal(1, index.FindUnit(14));
        Assert.Equal(-1, index.FindUnit(15));
        Assert.Equal(2, index.FindUnit(29));
        Assert.Equal(-1, index.FindUnit(30));
    }

    [Fact]
    public void Constructor_OverlappingUnits_Throws()
        => Assert.Throws<InvalidDataException>(() => new TestIndex(Layer, [Unit(0, 0, 10), Unit(10, 5, 10)]));

    [Fact]
    public void Constructor_UnitPastTheBlob_Throws()
        => Assert.Throws<InvalidDataException>(() => new TestIndex(Layer, [new SeekableUnit(990, 11, 0, 10, Digest.Compute("x"u8))]));

    private static SeekableUnit Unit(long compressed, long data, int length) => new(compressed, length, data, length, Digest.Compute("x"u8));

    private sealed class TestIndex(Descriptor layer, IReadOnlyList<SeekableUnit> units) : SeekableLayerIndex(layer, [], units)
    {
        public override string Format => "test";

        public override void Decode(int unitIndex, ReadOnlySpan<byte> encoded, Span<byte> destination) => encoded.CopyTo(destination);
    }
}
