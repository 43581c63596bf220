using System.Buffers;
using System.Buffers.Binary;
using MessagePack;
using ZstdSharp;

namespace Accelerator.Block.Format;

public sealed partial class BlockIndex
{
    // The blob: "ACCELBLK", the version (uint32 little endian), then one zstd frame (with its content size) of the body.
    private const int HeaderSize = 12;
    private const int SectionCount = 5;

    private static ReadOnlySpan<byte> Magic => "ACCELBLK"u8;

    /// <summary>
    /// Reads and validates an index blob. Every count is bounded by the bytes left, the body by
    /// <paramref name="maxBodyBytes"/>, and the result is checked as <see cref="Create"/> checks it.
    /// </summary>
    /// <param name="blob">The index blob (already verified against its digest by the caller).</param>
    /// <param name="maxBodyBytes">The largest uncompressed body accepted.</param>
    /// <exception cref="InvalidDataException">The blob is not a valid index of this version.</exception>
    public static BlockIndex Read(ReadOnlySpan<byte> blob, int maxBodyBytes = BlockFormat.MaxIndexBodyBytes)
    {
        if (blob.Length < HeaderSize || !blob[..Magic.Length].SequenceEqual(Magic))
        {
            throw new InvalidDataException("The blob is not a block image index (bad magic).");
        }

        uint version = BinaryPrimitives.ReadUInt32LittleEndian(blob[Magic.Length..]);
        if (version != BlockFormat.Version)
        {
            throw new InvalidDataException($"The block index is version {version}; this reader understands version {BlockFormat.Version}.");
        }

        ReadOnlySpan<byte> frame = blob[HeaderSize..];
        ulong size;
        try
        {
            size = Decompressor.GetDecompressedSize(frame);
        }
        catch (ZstdException ex)
        {
            throw new InvalidDataException($"The block index body is not a zstd frame: {ex.Message}", ex);
        }

        if (size == 0 || size > (ulong)maxBodyBytes)
        {
            throw new InvalidDataException($"The block index body declares {size} bytes; 1 to {maxBodyBytes} are allowed.");
        }

        var body = new byte[(int)size];
        try
        {
            using var decompressor = new Decompressor();
            if (decompressor.Unwrap(frame, body) != body.Length)
            {
                throw new InvalidDataException("The block index body is shorter than its frame declares.");
            }
        }
        catch (ZstdException ex)
        {
            throw new InvalidDataException($"The block index body is not a valid zstd frame: {ex.Message}", ex);
        }

        return ReadBody(body);
    }

    /// <summary>Reads and validates an uncompressed index body.</summary>
    internal static BlockIndex ReadBody(ReadOnlyMemory<byte> body)
    {
        try
        {
            var reader = new MessagePackReader(body);
            BlockIndex index = ReadBody(ref reader);
            if (!reader.End)
            {
                throw new InvalidDataException("The block index has bytes after its last section.");
            }

            return index;
        }
        catch (Exception ex) when (ex is MessagePackSerializationException or EndOfStreamException or OverflowException or ArgumentException or FormatException)
        {
            throw new InvalidDataException($"The block index is malformed: {ex.Message}", ex);
        }
    }

    private static BlockIndex ReadBody(ref MessagePackReader reader)
    {
        Expect(ref reader, SectionCount, "index");

        // [0] geometry
        Expect(ref reader, 2, "geometry");
        long diskSize = reader.ReadInt64();
        int blockSize = reader.ReadInt32();

        // [1] blobs
        Expect(ref reader, 2, "blob section");
        byte[] blobDigests = ReadBin(ref reader, "blob digests");
        int blobCount = ReadCount(ref reader, "blob sizes");
        CheckDigests(blobDigests, blobCount, "blob");
        var blobs = new BlockBlob[blobCount];
        for (int i = 0; i < blobCount; i++)
        {
            blobs[i] = new BlockBlob(Digest.FromHash(Digest.Sha256, blobDigests.AsSpan(i * BlockFormat.DigestBytes, BlockFormat.DigestBytes)), reader.ReadInt64());
        }

        // [2] stored blocks
        Expect(ref reader, 5, "stored block section");
        int[] blockBlob = ReadInts(ref reader, "block blobs", -1);
        int count = blockBlob.Length;
        long[] offsets = ReadLongs(ref reader, "block offsets", count);
        int[] stored = ReadInts(ref reader, "block stored lengths", count);
        int[] lengths = ReadInts(ref reader, "block lengths", count);
        RebaseOffsets(blockBlob, offsets, stored);
        byte[] digests = ReadBin(ref reader, "block digests");
        CheckDigests(digests, count, "stored block");

        // [3] layers
        int layerCount = ReadCount(ref reader, "layers");
        if (layerCount is < 1 or > BlockFormat.MaxLayers)
        {
            throw new InvalidDataException($"The index has {layerCount} layers; 1 to {BlockFormat.MaxLayers} are allowed.");
        }

        var layers = new BlockExtent[layerCount][];
        for (int l = 0; l < layerCount; l++)
        {
            Expect(ref reader, 3, "layer");
            long[] gaps = ReadLongs(ref reader, "extent starts", -1);
            long[] counts = ReadLongs(ref reader, "extent lengths", gaps.Length);
            int[] refs = ReadInts(ref reader, "extent blocks", gaps.Length);
            var extents = new BlockExtent[gaps.Length];
            long previous = 0;
            for (int i = 0; i < extents.Length; i++)
            {
                long first = checked(previous + gaps[i]);
                extents[i] = new BlockExtent(first, counts[i], checked(refs[i] - 1));
                previous = checked(first + counts[i]);
            }

            layers[l] = extents;
        }

        // [4] prefetch
        long[] prefetch = ReadLongs(ref reader, "prefetch trace", -1);
        return new BlockIndex(diskSize, blockSize, blobs, blockBlob, offsets, stored, lengths, digests, layers, prefetch);
    }

    // Offsets are stored as gaps from the end of the previous block of the same blob run (0 at a run's start).
    private static void RebaseOffsets(int[] blob, long[] gaps, int[] stored)
    {
        long end = 0;
        for (int i = 0; i < gaps.Length; i++)
        {
            if (i == 0 || blob[i] != blob[i - 1])
            {
                end = 0;
            }

            gaps[i] = checked(end + gaps[i]);
            end = checked(gaps[i] + stored[i]);
        }
    }

    private static void Expect(ref MessagePackReader reader, int count, string what)
    {
        int actual = reader.ReadArrayHeader();
        if (actual != count)
        {
            throw new InvalidDataException($"The block index's {what} has {actual} items, not {count}.");
        }
    }

    // An array header whose count cannot exceed the bytes left (every element takes at least one).
    private static int ReadCount(ref MessagePackReader reader, string what)
    {
        int count = reader.ReadArrayHeader();
        if (count < 0 || count > reader.Sequence.Length - reader.Consumed)
        {
            throw new InvalidDataException($"The block index's {what} claims {count} items, more than the bytes left.");
        }

        return count;
    }

    private static int[] ReadInts(ref MessagePackReader reader, string what, int expected)
    {
        int count = ReadCount(ref reader, what);
        if (expected >= 0 && count != expected)
        {
            throw new InvalidDataException($"The block index's {what} has {count} items, not {expected}.");
        }

        var values = new int[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = reader.ReadInt32();
        }

        return values;
    }

    private static long[] ReadLongs(ref MessagePackReader reader, string what, int expected)
    {
        int count = ReadCount(ref reader, what);
        if (expected >= 0 && count != expected)
        {
            throw new InvalidDataException($"The block index's {what} has {count} items, not {expected}.");
        }

        var values = new long[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = reader.ReadInt64();
        }

        return values;
    }

    private static byte[] ReadBin(ref MessagePackReader reader, string what)
    {
        if (reader.ReadBytes() is not { } bytes)
        {
            throw new InvalidDataException($"The block index's {what} is nil.");
        }

        return bytes.ToArray();
    }

    private static void CheckDigests(byte[] digests, int count, string what)
    {
        if (digests.Length != (long)count * BlockFormat.DigestBytes)
        {
            throw new InvalidDataException($"The block index's {what} digests take {digests.Length} bytes; {count} need {count * (long)BlockFormat.DigestBytes}.");
        }
    }
}
