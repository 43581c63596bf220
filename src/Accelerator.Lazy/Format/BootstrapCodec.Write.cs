using System.Buffers;
using System.Buffers.Binary;
using MessagePack;

namespace Accelerator.Lazy.Format;

internal static partial class BootstrapCodec
{
    /// <summary>Encodes <paramref name="model"/> (header and MessagePack body, uncompressed).</summary>
    public static byte[] Encode(BootstrapModel model)
    {
        var buffer = new ArrayBufferWriter<byte>(4096 + (model.InodeCount * 24) + (model.ChunkCount * 48));
        Span<byte> header = buffer.GetSpan(HeaderSize);
        Magic.CopyTo(header);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], LazyFormat.Version);
        buffer.Advance(HeaderSize);

        var writer = new MessagePackWriter(buffer);
        writer.WriteArrayHeader(SectionCount);

        // [0] chunk size
        writer.Write(model.ChunkSize);

        // [1] string table
        writer.WriteArrayHeader(model.Strings.Length);
        foreach (string s in model.Strings)
        {
            writer.Write(s);
        }

        // [2] blobs: digests, sizes
        writer.WriteArrayHeader(2);
        writer.Write(model.BlobDigests);
        WriteColumn(ref writer, model.BlobSizes);

        // [3] chunks: blob, offset gap, compressed size, uncompressed size, digests
        writer.WriteArrayHeader(5);
        WriteColumn(ref writer, model.ChunkBlob);
        writer.WriteArrayHeader(model.ChunkCount);
        long end = 0;
        for (int i = 0; i < model.ChunkCount; i++)
        {
            if (i == 0 || model.ChunkBlob[i] != model.ChunkBlob[i - 1])
            {
                end = 0;
            }

            writer.Write(model.ChunkOffset[i] - end);
            end = model.ChunkOffset[i] + model.ChunkCompressedSize[i];
        }

        WriteColumn(ref writer, model.ChunkCompressedSize);
        WriteColumn(ref writer, model.ChunkUncompressedSize);
        writer.Write(model.ChunkDigests);

        // [4] inodes
        writer.WriteArrayHeader(12);
        writer.Write(model.InodeType);
        WriteColumn(ref writer, model.Mode);
        WriteColumn(ref writer, model.Uid);
        WriteColumn(ref writer, model.Gid);
        writer.WriteArrayHeader(model.InodeCount);
        long previous = 0;
        foreach (long seconds in model.MtimeSeconds)
        {
            writer.Write(seconds - previous);
            previous = seconds;
        }

        WriteColumn(ref writer, model.MtimeNanoseconds);
        WriteColumn(ref writer, model.Size);
        WriteColumn(ref writer, model.XattrSet);
        WriteColumn(ref writer, model.SymlinkTarget);
        WriteColumn(ref writer, model.DeviceMajor);
        WriteColumn(ref writer, model.DeviceMinor);
        WriteColumn(ref writer, model.ChunkRefCount);

        // [5] file chunks: chunk index, gap before the piece (per file, from the end of the previous piece)
        writer.WriteArrayHeader(2);
        WriteColumn(ref writer, model.RefChunk);
        writer.WriteArrayHeader(model.RefOffset.Length);
        int reference = 0;
        foreach (int count in model.ChunkRefCount)
        {
            long fileEnd = 0;
            for (int i = 0; i < count; i++, reference++)
            {
                // The encoder writes what it is given; a chunk index out of range is the reader's to reject.
                int chunk = model.RefChunk[reference];
                writer.Write(model.RefOffset[reference] - fileEnd);
                fileEnd = model.RefOffset[reference] + ((uint)chunk < (uint)model.ChunkCount ? model.ChunkUncompressedSize[chunk] : 0);
            }
        }

        // [6] directory entries, sorted by (parent, name): parent delta, name, child delta
        writer.WriteArrayHeader(3);
        writer.WriteArrayHeader(model.DentryParent.Length);
        uint parent = 0;
        foreach (uint p in model.DentryParent)
        {
            writer.Write(p - parent);
            parent = p;
        }

        WriteColumn(ref writer, model.DentryName);
        writer.WriteArrayHeader(model.DentryChild.Length);
        long child = 0;
        foreach (uint c in model.DentryChild)
        {
            writer.Write(c - child);
            child = c;
        }

        // [7] xattr sets: each an array of name index, value, name index, value, ...
        writer.WriteArrayHeader(model.XattrSets.Length);
        foreach (var set in model.XattrSets)
        {
            writer.WriteArrayHeader(set.Length * 2);
            foreach (var (name, value) in set)
            {
                writer.Write(name);
                writer.Write(value);
            }
        }

        // [8] prefetch inodes
        WriteColumn(ref writer, model.Prefetch);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    private static void WriteColumn(ref MessagePackWriter writer, uint[] values)
    {
        writer.WriteArrayHeader(values.Length);
        foreach (uint v in values)
        {
            writer.Write(v);
        }
    }

    private static void WriteColumn(ref MessagePackWriter writer, int[] values)
    {
        writer.WriteArrayHeader(values.Length);
        foreach (int v in values)
        {
            writer.Write(v);
        }
    }

    private static void WriteColumn(ref MessagePackWriter writer, long[] values)
    {
        writer.WriteArrayHeader(values.Length);
        foreach (long v in values)
        {
            writer.Write(v);
        }
    }
}
