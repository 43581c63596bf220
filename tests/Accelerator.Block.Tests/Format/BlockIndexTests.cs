using System.Buffers.Binary;
using Accelerator.Block.Format;
using MessagePack;
using ZstdSharp;

namespace Accelerator.Block.Tests.Format;

public sealed class BlockIndexTests
{
    private const int Bs = BlockFormat.MinBlockSize;

    internal static Digest D(int i) => Digest.Compute([(byte)i, (byte)(i >> 8), 0x5A]);

    internal static BlockIndex Sample(IReadOnlyList<long>? prefetch = null) => BlockIndex.Create(
        16L * Bs, Bs,
        [new BlockBlob(D(100), 3000), new BlockBlob(D(101), Bs)],
        [new StoredBlock(0, 0, 1000, Bs, D(1)), new StoredBlock(0, 1000, 2000, Bs, D(2)), new StoredBlock(1, 0, Bs, Bs, D(3))],
        [
            [new BlockExtent(0, 1, 0), new BlockExtent(1, 3, 1), new BlockExtent(7, 1, 2)],
            [new BlockExtent(1, 1, -1), new BlockExtent(9, 2, 0)],
        ],
        prefetch ?? [7, 0, 2]);

    [Fact]
    public void Read_WrittenIndex_RoundTripsEveryField()
    {
        BlockIndex index = Sample();

        BlockIndex read = BlockIndex.Read(index.ToBytes());

        Assert.Equal(index.DiskSize, read.DiskSize);
        Assert.Equal(index.BlockSize, read.BlockSize);
        Assert.Equal(index.Blobs, read.Blobs);
        Assert.Equal(index.StoredBlocks, read.StoredBlocks);
        Assert.Equal(index.Layers.Count, read.Layers.Count);
        for (int l = 0; l < index.Layers.Count; l++)
        {
            Assert.Equal(index.Layers[l], read.Layers[l]);
        }

        Assert.Equal(index.Prefetch, read.Prefetch);
        Assert.Equal(index.ToBytes(), read.ToBytes());
    }

    [Fact]
    public void Flatten_UpperLayers_HideLowerOnesAndZeroExtentsReadAsZeros()
    {
        int[] map = Sample().Flatten();

        Assert.Equal([0, -1, 1, 1, -1, -1, -1, 2, -1, 0, 0, -1, -1, -1, -1, -1], map);
    }

    [Fact]
    public void Read_BadMagicOrVersion_InvalidData()
    {
        byte[] blob = Sample().ToBytes();
        byte[] magic = (byte[])blob.Clone();
        magic[0] ^= 1;
        byte[] version = (byte[])blob.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(version.AsSpan(8), 2);

        Assert.Contains("magic", Assert.Throws<InvalidDataException>(() => BlockIndex.Read(magic)).Message);
        Assert.Contains("version 2", Assert.Throws<InvalidDataException>(() => BlockIndex.Read(version)).Message);
        Assert.Throws<InvalidDataException>(() => BlockIndex.Read(blob.AsSpan(0, 11)));
        Assert.Throws<InvalidDataException>(() => BlockIndex.Read(blob.AsSpan(0, blob.Length - 3)));
    }

    [Fact]
    public void Read_BodyLargerThanLimit_RefusedBeforeDecompressing()
    {
        byte[] blob = Sample().ToBytes();

        var error = Assert.Throws<InvalidDataException>(() => BlockIndex.Read(blob, maxBodyBytes: 16));

        Assert.Contains("declares", error.Message);
    }

    [Fact]
    public void Read_CountLargerThanBytesLeft_InvalidData()
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        var writer = new MessagePackWriter(buffer);
        writer.WriteArrayHeader(5);
        writer.WriteArrayHeader(2);
        writer.Write(16L * Bs);
        writer.Write(Bs);
        writer.WriteArrayHeader(2);
        writer.Write(Array.Empty<byte>());
        writer.WriteArrayHeader(int.MaxValue);
        writer.Flush();

        var error = Assert.Throws<InvalidDataException>(() => BlockIndex.ReadBody(buffer.WrittenMemory));

        Assert.StartsWith("The block index", error.Message);
    }

    public static TheoryData<string, Func<BlockIndex>> HostileIndexes => new()
    {
        { "block size", () => BlockIndex.Create(16L * 3000, 3000, [], [], [[]]) },
        { "disk size", () => BlockIndex.Create((16L * Bs) + 1, Bs, [], [], [[]]) },
        { "no layers", () => BlockIndex.Create(16L * Bs, Bs, [], [], []) },
        { "blob index", () => BlockIndex.Create(16L * Bs, Bs, [new BlockBlob(D(100), Bs)], [new StoredBlock(1, 0, 10, Bs, D(1))], [[]]) },
        { "past blob end", () => BlockIndex.Create(16L * Bs, Bs, [new BlockBlob(D(100), 100)], [new StoredBlock(0, 50, 51, Bs, D(1))], [[]]) },
        { "stored longer than block", () => BlockIndex.Create(16L * Bs, Bs, [new BlockBlob(D(100), 2 * Bs)], [new StoredBlock(0, 0, Bs + 1, Bs, D(1))], [[]]) },
        { "partial block", () => BlockIndex.Create(16L * Bs, Bs, [new BlockBlob(D(100), Bs)], [new StoredBlock(0, 0, 10, Bs / 2, D(1))], [[]]) },
        { "overlap", () => BlockIndex.Create(16L * Bs, Bs, [], [], [[new BlockExtent(0, 2, -1), new BlockExtent(1, 1, -1)]]) },
        { "unsorted", () => BlockIndex.Create(16L * Bs, Bs, [], [], [[new BlockExtent(5, 1, -1), new BlockExtent(1, 1, -1)]]) },
        { "past disk", () => BlockIndex.Create(16L * Bs, Bs, [], [], [[new BlockExtent(15, 2, -1)]]) },
        { "empty extent", () => BlockIndex.Create(16L * Bs, Bs, [], [], [[new BlockExtent(3, 0, -1)]]) },
        { "stored block ref", () => BlockIndex.Create(16L * Bs, Bs, [], [], [[new BlockExtent(3, 1, 0)]]) },
        { "negative ref", () => BlockIndex.Create(16L * Bs, Bs, [], [], [[new BlockExtent(3, 1, -2)]]) },
        { "prefetch", () => BlockIndex.Create(16L * Bs, Bs, [], [], [[]], [16]) },
        { "too many blocks", () => BlockIndex.Create((BlockFormat.MaxBlocks + 1) * Bs, Bs, [], [], [[]]) },
    };

    [Theory]
    [MemberData(nameof(HostileIndexes))]
    public void Create_HostileIndex_InvalidData(string name, Func<BlockIndex> create)
    {
        var error = Assert.Throws<InvalidDataException>(create);
        Assert.False(string.IsNullOrEmpty(error.Message), name);
    }

    [Fact]
    public void Read_OverlappingExtentsInBlob_RejectedLikeCreate()
    {
        // Encode a valid index, then make the second layer's first extent start inside the first one: gap -1.
        byte[] body = Sample().EncodeBody();
        BlockIndex valid = BlockIndex.ReadBody(body);
        Assert.Equal(2, valid.Layers.Count);
        var reader = new MessagePackReader(body);
        int layersAt = FindLayerSection(ref reader);
        byte[] hostile = body.ToArray();
        // Layer 0 starts [3, [gaps...]]: its second gap (from block 1 to 1) is 0 encoded as fixint 0x00; make it 0xff (-1).
        int firstGaps = Array.IndexOf(hostile, (byte)0x93, layersAt) + 1;
        Assert.Equal(0x93, hostile[firstGaps]);
        hostile[firstGaps + 2] = 0xFF;

        Assert.Throws<InvalidDataException>(() => BlockIndex.ReadBody(hostile));
    }

    private static int FindLayerSection(ref MessagePackReader reader)
    {
        reader.ReadArrayHeader();
        reader.Skip();
        reader.Skip();
        reader.Skip();
        return (int)reader.Consumed;
    }

    [Fact]
    public void Read_CompressedZstdBomb_RefusedByDeclaredSize()
    {
        byte[] zeros = new byte[64 << 20];
        using var compressor = new Compressor(1);
        byte[] frame = compressor.Wrap(zeros).ToArray();
        byte[] blob = new byte[12 + frame.Length];
        "ACCELBLK"u8.CopyTo(blob);
        BinaryPrimitives.WriteUInt32LittleEndian(blob.AsSpan(8), 1);
        frame.CopyTo(blob, 12);

        Assert.Throws<InvalidDataException>(() => BlockIndex.Read(blob, maxBodyBytes: 1 << 20));
        Assert.Throws<InvalidDataException>(() => BlockIndex.Read(blob));
    }
}
