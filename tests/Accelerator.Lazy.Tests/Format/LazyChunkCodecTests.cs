using Accelerator.Lazy.Format;
using Accelerator.Lazy.Tests.Support;

namespace Accelerator.Lazy.Tests.Format;

public sealed class LazyChunkCodecTests
{
    private static (byte[] Stored, ChunkLocation Location) Encode(byte[] data)
    {
        using var compressor = LazyChunkCodec.CreateCompressor();
        byte[] output = new byte[data.Length];
        int stored = LazyChunkCodec.Encode(compressor, data, output);
        var location = new ChunkLocation(Digest.Compute("x"u8), 0, stored, 0, data.Length, Digest.Compute(data));
        return (output[..stored], location);
    }

    [Fact]
    public void Encode_CompressibleChunk_ZstdFrameSmallerThanData()
    {
        byte[] data = new byte[100_000];
        Array.Fill(data, (byte)'a');

        var (stored, location) = Encode(data);
        byte[] decoded = new byte[data.Length];
        LazyChunkCodec.Decode(stored, location, decoded);

        Assert.True(stored.Length < 1000);
        Assert.Equal(data, decoded);
    }

    [Fact]
    public void Encode_RandomChunk_StoredRawAtItsSize()
    {
        byte[] data = TestImages.RandomBytes(3, 65536);

        var (stored, location) = Encode(data);
        byte[] decoded = new byte[data.Length];
        LazyChunkCodec.Decode(stored, location, decoded);

        Assert.Equal(data, stored);
        Assert.Equal(data, decoded);
    }

    [Fact]
    public void Decode_CorruptedFrame_InvalidDataOrDigestMismatchNeverWrongBytes()
    {
        byte[] data = new byte[50_000];
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = (byte)(i % 251 / 7);
        }

        var (stored, location) = Encode(data);
        var random = new Random(1);
        for (int i = 0; i < 500; i++)
        {
            byte[] corrupt = [.. stored];
            corrupt[random.Next(corrupt.Length)] ^= (byte)(1 << random.Next(8));
            byte[] output = new byte[data.Length];
            var ex = Record.Exception(() => LazyChunkCodec.Decode(corrupt, location, output));

            // A flip in a bit zstd ignores decodes to the right bytes; anything else is an error.
            if (ex is null)
            {
                Assert.Equal(data, output);
            }
            else
            {
                Assert.True(ex is InvalidDataException or DigestMismatchException, ex.ToString());
            }
        }
    }

    [Fact]
    public void Decode_WrongStoredLength_InvalidDataException()
    {
        var (stored, location) = Encode(new byte[1000]);

        Assert.Throws<InvalidDataException>(() => LazyChunkCodec.Decode(stored[..^1], location, new byte[1000]));
        Assert.Throws<ArgumentException>(() => LazyChunkCodec.Decode(stored, location, new byte[999]));
    }
}
