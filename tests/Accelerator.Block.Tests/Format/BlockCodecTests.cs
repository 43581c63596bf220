using Accelerator.Block.Format;
using ZstdSharp;

namespace Accelerator.Block.Tests.Format;

public sealed class BlockCodecTests
{
    private const int Size = 4096;

    private static (byte[] Data, StoredBlock Block, byte[] Frame) Compressible()
    {
        byte[] data = new byte[Size];
        for (int i = 0; i < Size; i++)
        {
            data[i] = (byte)(i % 7);
        }

        using var compressor = new Compressor(3);
        byte[] frame = compressor.Wrap(data).ToArray();
        return (data, new StoredBlock(0, 0, frame.Length, Size, Digest.Compute(data)), frame);
    }

    [Fact]
    public void Decode_ZstdFrameAndRaw_VerifiedBytes()
    {
        var (data, block, frame) = Compressible();
        byte[] output = new byte[Size];

        BlockCodec.Decode(frame, block, output);
        Assert.Equal(data, output);

        byte[] random = new byte[Size];
        new Random(1).NextBytes(random);
        var raw = new StoredBlock(0, 0, Size, Size, Digest.Compute(random));
        BlockCodec.Decode(random, raw, output);
        Assert.Equal(random, output);
    }

    [Fact]
    public void Decode_WrongDigestOrBadFrameOrLength_Refused()
    {
        var (_, block, frame) = Compressible();
        byte[] output = new byte[Size];

        Assert.Throws<DigestMismatchException>(() => BlockCodec.Decode(frame, block with { Digest = Digest.Compute([1]) }, output));
        byte[] bad = (byte[])frame.Clone();
        bad[^2] ^= 0xFF;
        var error = Assert.ThrowsAny<Exception>(() => BlockCodec.Decode(bad, block, output));
        Assert.True(error is InvalidDataException or DigestMismatchException, error.ToString());
        Assert.Throws<InvalidDataException>(() => BlockCodec.Decode(frame.AsSpan(1), block, output));
        Assert.Throws<InvalidDataException>(() => BlockCodec.Decode(new byte[5], block with { CompressedLength = 5 }, output));
        // After a failed frame the thread's context still decodes good frames.
        BlockCodec.Decode(frame, block, output);
    }
}
