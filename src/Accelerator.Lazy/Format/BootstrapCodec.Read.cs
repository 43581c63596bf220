using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using MessagePack;

namespace Accelerator.Lazy.Format;

internal static partial class BootstrapCodec
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// Decodes an uncompressed bootstrap into its columns. Only the encoding is checked here (header, shapes, column
    /// lengths, integer ranges, UTF-8); <see cref="LazyBootstrap"/> checks what the values mean.
    /// </summary>
    /// <exception cref="InvalidDataException">The bytes are not a version 1 bootstrap.</exception>
    public static BootstrapModel Decode(ReadOnlyMemory<byte> raw)
    {
        ReadOnlySpan<byte> span = raw.Span;
        if (span.Length < HeaderSize || !span[..8].SequenceEqual(Magic))
        {
            throw new InvalidDataException("The data is not a lazy image bootstrap (bad magic).");
        }

        uint version = BinaryPrimitives.ReadUInt32LittleEndian(span[8..]);
        if (version != LazyFormat.Version)
        {
            throw new InvalidDataException($"The bootstrap has format version {version}; this reader understands version {LazyFormat.Version}.");
        }

        try
        {
            var reader = new MessagePackReader(raw[HeaderSize..]);
            var model = ReadBody(ref reader);
            if (!reader.End)
            {
                throw new InvalidDataException("The bootstrap has bytes after its last section.");
            }

            return model;
        }
        catch (Exception ex) when (ex is MessagePackSerializationException or EndOfStreamException or OverflowException or DecoderFallbackException or ArgumentException)
        {
            throw new InvalidDataException($"The bootstrap is malformed: {ex.Message}", ex);
        }
    }

    private static BootstrapModel ReadBody(ref MessagePackReader reader)
    {
        Expect(ref reader, SectionCount, "bootstrap");
        var model = new BootstrapModel { ChunkSize = reader.ReadInt32() };

        // [1] strings
        int stringCount = ReadCount(ref reader, "string table");
        model.Strings = new string[stringCount];
        for (int i = 0; i < stringCount; i++)
        {
            model.Strings[i] = ReadUtf8(ref reader);
        }

        // [2] blobs
        Expect(ref reader, 2, "blob section");
        model.BlobDigests = ReadBin(ref reader, "blob digests");
        model.BlobSizes = ReadLongs(ref reader, "blob sizes");
        CheckDigests(model.BlobDigests, model.BlobSizes.Length, "blob");

        // [3] chunks
        Expect(ref reader, 5, "chunk section");
        model.ChunkBlob = ReadInts(ref reader, "chunk blobs");
        int chunks = model.ChunkBlob.Length;
        long[] gaps = ReadLongs(ref reader, "chunk offsets", chunks);
        model.ChunkCompressedSize = ReadInts(ref reader, "chunk compressed sizes", chunks);
        model.ChunkUncompressedSize = ReadInts(ref reader, "chunk sizes", chunks);
        model.ChunkDigests = ReadBin(ref reader, "chunk digests");
        CheckDigests(model.ChunkDigests, chunks, "chunk");
        model.ChunkOffset = new long[chunks];
        long end = 0;
        for (int i = 0; i < chunks; i++)
        {
            if (i == 0 || model.ChunkBlob[i] != model.ChunkBlob[i - 1])
            {
                end = 0;
            }

            model.ChunkOffset[i] = checked(end + gaps[i]);
            end = checked(model.ChunkOffset[i] + model.ChunkCompressedSize[i]);
        }

        // [4] inodes
        Expect(ref reader, 12, "inode section");
        model.InodeType = ReadBin(ref reader, "inode types");
        int inodes = model.InodeType.Length;
        model.Mode = ReadUInts(ref reader, "modes", inodes);
        model.Uid = ReadUInts(ref reader, "uids", inodes);
        model.Gid = ReadUInts(ref reader, "gids", inodes);
        long[] mtimeDeltas = ReadLongs(ref reader, "mtimes", inodes);
        model.MtimeSeconds = new long[inodes];
        long previous = 0;
        for (int i = 0; i < inodes; i++)
        {
            previous = checked(previous + mtimeDeltas[i]);
            model.MtimeSeconds[i] = previous;
        }

        model.MtimeNanoseconds = ReadUInts(ref reader, "mtime nanoseconds", inodes);
        model.Size = ReadLongs(ref reader, "sizes", inodes);
        model.XattrSet = ReadUInts(ref reader, "xattr sets", inodes);
        model.SymlinkTarget = ReadUInts(ref reader, "symlink targets", inodes);
        model.DeviceMajor = ReadUInts(ref reader, "device majors", inodes);
        model.DeviceMinor = ReadUInts(ref reader, "device minors", inodes);
        model.ChunkRefCount = ReadInts(ref reader, "chunk counts", inodes);

        // [5] file chunks
        Expect(ref reader, 2, "file chunk section");
        model.RefChunk = ReadInts(ref reader, "file chunks");
        long[] refGaps = ReadLongs(ref reader, "file chunk offsets", model.RefChunk.Length);
        model.RefOffset = new long[refGaps.Length];
        int reference = 0;
        foreach (int count in model.ChunkRefCount)
        {
            if (count < 0 || count > refGaps.Length - reference)
            {
                throw new InvalidDataException("The bootstrap's chunk counts do not add up to its file chunk list.");
            }

            long fileEnd = 0;
            for (int i = 0; i < count; i++, reference++)
            {
                int chunk = model.RefChunk[reference];
                if ((uint)chunk >= (uint)chunks)
                {
                    throw new InvalidDataException($"A file refers to chunk {chunk}; the bootstrap has {chunks}.");
                }

                model.RefOffset[reference] = checked(fileEnd + refGaps[reference]);
                fileEnd = checked(model.RefOffset[reference] + model.ChunkUncompressedSize[chunk]);
            }
        }

        if (reference != refGaps.Length)
        {
            throw new InvalidDataException("The bootstrap's chunk counts do not add up to its file chunk list.");
        }

        // [6] directory entries
        Expect(ref reader, 3, "directory entry section");
        uint[] parentDeltas = ReadUInts(ref reader, "entry parents");
        int dentries = parentDeltas.Length;
        model.DentryName = ReadUInts(ref reader, "entry names", dentries);
        long[] childDeltas = ReadLongs(ref reader, "entry children", dentries);
        model.DentryParent = new uint[dentries];
        model.DentryChild = new uint[dentries];
        long parent = 0, child = 0;
        for (int i = 0; i < dentries; i++)
        {
            parent = checked(parent + parentDeltas[i]);
            child = checked(child + childDeltas[i]);
            model.DentryParent[i] = checked((uint)parent);
            model.DentryChild[i] = checked((uint)child);
        }

        // [7] xattr sets
        int sets = ReadCount(ref reader, "xattr sets");
        model.XattrSets = new (uint, byte[])[sets][];
        for (int s = 0; s < sets; s++)
        {
            int items = ReadCount(ref reader, "xattr set");
            if (items % 2 != 0)
            {
                throw new InvalidDataException("An xattr set has a name without a value.");
            }

            var set = new (uint, byte[])[items / 2];
            for (int i = 0; i < set.Length; i++)
            {
                uint name = reader.ReadUInt32();
                set[i] = (name, ReadBin(ref reader, "xattr value"));
            }

            model.XattrSets[s] = set;
        }

        // [8] prefetch
        model.Prefetch = ReadUInts(ref reader, "prefetch list");
        return model;
    }

    private static void Expect(ref MessagePackReader reader, int count, string what)
    {
        int actual = reader.ReadArrayHeader();
        if (actual != count)
        {
            throw new InvalidDataException($"The bootstrap's {what} has {actual} fields, not {count}.");
        }
    }

    /// <summary>Reads an array header whose count cannot exceed the bytes left (every element takes at least one).</summary>
    private static int ReadCount(ref MessagePackReader reader, string what)
    {
        int count = reader.ReadArrayHeader();
        if (count < 0 || count > reader.Sequence.Length - reader.Consumed)
        {
            throw new InvalidDataException($"The bootstrap's {what} claims {count} items, more than the bytes left.");
        }

        return count;
    }

    private static int ReadCount(ref MessagePackReader reader, string what, int expected)
    {
        int count = ReadCount(ref reader, what);
        if (expected >= 0 && count != expected)
        {
            throw new InvalidDataException($"The bootstrap's {what} has {count} items, not {expected}.");
        }

        return count;
    }

    private static uint[] ReadUInts(ref MessagePackReader reader, string what, int expected = -1)
    {
        var values = new uint[ReadCount(ref reader, what, expected)];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = reader.ReadUInt32();
        }

        return values;
    }

    private static int[] ReadInts(ref MessagePackReader reader, string what, int expected = -1)
    {
        var values = new int[ReadCount(ref reader, what, expected)];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = reader.ReadInt32();
        }

        return values;
    }

    private static long[] ReadLongs(ref MessagePackReader reader, string what, int expected = -1)
    {
        var values = new long[ReadCount(ref reader, what, expected)];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = reader.ReadInt64();
        }

        return values;
    }

    private static byte[] ReadBin(ref MessagePackReader reader, string what)
    {
        if (reader.ReadBytes() is not { } bytes)
        {
            throw new InvalidDataException($"The bootstrap's {what} is nil.");
        }

        return bytes.ToArray();
    }

    private static string ReadUtf8(ref MessagePackReader reader)
    {
        if (reader.ReadStringSequence() is not { } bytes)
        {
            throw new InvalidDataException("The bootstrap's string table holds a nil.");
        }

        return StrictUtf8.GetString(bytes.IsSingleSegment ? bytes.FirstSpan : bytes.ToArray());
    }

    private static void CheckDigests(byte[] digests, int count, string what)
    {
        if (digests.Length != (long)count * LazyFormat.DigestBytes)
        {
            throw new InvalidDataException($"The bootstrap's {what} digests take {digests.Length} bytes; {count} {what}s need {count * (long)LazyFormat.DigestBytes}.");
        }
    }
}
