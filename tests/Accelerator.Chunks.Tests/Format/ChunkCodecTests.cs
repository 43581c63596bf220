using Accelerator.Chunks.Format;

namespace Accelerator.Chunks.Tests.Format;

public sealed class ChunkCodecTests
{
    private static byte[] Encode(byte[] data)
    {
        using var compressor = ChunkCodec.CreateCompressor();
        byte[] output = new byte[data.Length];
        int stored = ChunkCodec.Encode(compressor, data, output);
        return output[..stored];
    }

    private static byte[] Decode(byte[] stored, byte[] data, string kind = "chunk")
    {
        byte[] decoded = new byte[data.Length];
        ChunkCodec.Decode(stored, Digest.Compute(data), stored.Length, data.Length, decoded, kind);
        return decoded;
    }

    private static byte[] RandomBytes(int seed, int length)
    {
        byte[] data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    [Fact]
    public void Encode_CompressibleChunk_ZstdFrameSmallerThanData()
    {
        byte[] data = new byte[100_000];
        Array.Fill(data, (byte)'a');

        byte[] stored = Encode(data);

        Assert.True(stored.Length < 1000);
        Assert.Equal(data, Decode(stored, data));
    }

    [Fact]
    public void Encode_RandomChunk_StoredRawAtItsSize()
    {
        byte[] data = RandomBytes(3, 65536);

        byte[] stored = Encode(data);

        Assert.Equal(data, stored);
        Assert.Equal(data, Decode(stored, data));
    }

    [Fact]
    public void Encode_SameInputTwice_SameBytes()
    {
        byte[] data = new byte[70_000];
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = (byte)(i % 13);
        }

        Assert.Equal(Encode(data), Encode(data));
    }

    [Fact]
    public void Decode_CorruptedFrame_InvalidDataOrDigestMismatchNeverWrongBytes()
    {
        byte[] data = new byte[50_000];
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = (byte)(i % 251 / 7);
        }

        byte[] stored = Encode(data);
        var random = new Random(1);
        for (int i = 0; i < 500; i++)
        {
            byte[] corrupt = [.. stored];
            corrupt[random.Next(corrupt.Length)] ^= (byte)(1 << random.Next(8));
            var ex = Record.Exception(() => Assert.Equal(data, Decode(corrupt, data)));

            // A flip in a bit zstd ignores decodes to the right bytes; anything else is an error.
            if (ex is not null)
            {
                Assert.True(ex is InvalidDataException or DigestMismatchException, ex.ToString());
            }
        }

        // A failed frame leaves no broken decompression context behind.
        Assert.Equal(data, Decode(stored, data));
    }

    [Fact]
    public void Decode_WrongStoredLength_InvalidDataException()
    {
        byte[] data = new byte[1000];
        byte[] stored = Encode(data);
        Digest digest = Digest.Compute(data);

        var ex = Assert.Throws<InvalidDataException>(() => ChunkCodec.Decode(stored[..^1], digest, stored.Length, 1000, new byte[1000], "block"));
        Assert.StartsWith($"Block {digest} is {stored.Length - 1} stored bytes", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => ChunkCodec.Decode(stored, digest, stored.Length, 1000, new byte[999]));
    }

    [Fact]
    public void Decode_OtherBytes_DigestMismatchNamesKind()
    {
        byte[] data = RandomBytes(4, 4096);
        byte[] other = RandomBytes(5, 4096);

        var ex = Assert.Throws<DigestMismatchException>(() => ChunkCodec.Decode(other, Digest.Compute(data), other.Length, other.Length, new byte[4096], "block"));

        Assert.Contains("block", ex.Message, StringComparison.Ordinal);
    }
}
