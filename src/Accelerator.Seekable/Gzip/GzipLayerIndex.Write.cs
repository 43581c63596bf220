using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Accelerator.Oci.Layers;
using ZstdSharp;

namespace Accelerator.Seekable.Gzip;

public sealed partial class GzipLayerIndex
{
    // Fixed: the same index must give the same bytes.
    private const int CompressionLevel = 9;

    /// <summary>
    /// Encodes the index as its blob (<see cref="MediaType"/>): the magic <c>ACCELGZI</c>, the version (uint32 little
    /// endian), then one zstd frame (with its content size) of the body. Layout: docs/formats/seekable.md.
    /// </summary>
    public byte[] ToBytes()
    {
        byte[] body = EncodeBody();
        using var compressor = new Compressor(CompressionLevel);
        compressor.SetParameter(ZstdSharp.Unsafe.ZSTD_cParameter.ZSTD_c_contentSizeFlag, 1);
        byte[] compressed = compressor.Wrap(body).ToArray();
        var blob = new byte[HeaderSize + compressed.Length];
        Magic.CopyTo(blob);
        BinaryPrimitives.WriteUInt32LittleEndian(blob.AsSpan(Magic.Length), Version);
        compressed.CopyTo(blob, HeaderSize);
        return blob;
    }

    /// <summary>The body, uncompressed.</summary>
    internal byte[] EncodeBody()
    {
        var writer = new BodyWriter(new ArrayBufferWriter<byte>(4096 + (Entries.Count * 64) + (Units.Count * 48)));
        writer.String(Layer.Digest.Value);
        writer.Unsigned((ulong)Layer.Size);
        writer.Byte(_checkpoints is null ? TarFormatCode : GzipFormatCode);
        writer.Unsigned((ulong)SpanSize);
        writer.Unsigned((ulong)UncompressedSize);

        writer.Unsigned((ulong)Entries.Count);
        foreach (SeekableEntry entry in Entries)
        {
            WriteEntry(ref writer, entry);
        }

        writer.Unsigned((ulong)Units.Count);
        long previousByte = 0, previousData = 0;
        for (int i = 0; i < Units.Count; i++)
        {
            if (_checkpoints is { } checkpoints)
            {
                GzipCheckpoint checkpoint = checkpoints[i];
                writer.Unsigned((ulong)(checkpoint.ByteOffset - previousByte));
                writer.Byte((byte)checkpoint.Bits);
                writer.Unsigned((ulong)(checkpoint.DataOffset - previousData));
                writer.Bytes(checkpoint.Window ?? []);
                previousByte = checkpoint.ByteOffset;
                previousData = checkpoint.DataOffset;
            }

            Span<byte> hash = writer.Reserve(DigestBytes);
            Convert.FromHexString(Units[i].Digest.Encoded, hash, out _, out _);
        }

        return writer.ToArray();
    }

    private static void WriteEntry(ref BodyWriter writer, SeekableEntry entry)
    {
        TarEntryHeader header = entry.Header;
        writer.String(header.Path);
        writer.Byte((byte)header.Kind);
        writer.Unsigned((ulong)header.Mode);
        writer.Signed(header.Uid);
        writer.Signed(header.Gid);
        writer.OptionalString(header.UserName);
        writer.OptionalString(header.GroupName);
        writer.Unsigned((ulong)header.Size);
        writer.Signed(header.ModificationTime.Seconds);
        writer.Unsigned((ulong)header.ModificationTime.Nanoseconds);
        writer.OptionalString(header.LinkTarget);
        writer.Unsigned((ulong)header.DeviceMajor);
        writer.Unsigned((ulong)header.DeviceMinor);
        writer.Unsigned((ulong)header.ExtendedAttributes.Count);
        foreach (var (name, value) in header.ExtendedAttributes.OrderBy(a => a.Key, StringComparer.Ordinal))
        {
            writer.String(name);
            writer.Bytes(value.Span);
        }

        writer.Unsigned((ulong)entry.DataOffset);
    }

    /// <summary>Little helpers over an <see cref="ArrayBufferWriter{T}"/>: LEB128 varints, zigzag, length-prefixed bytes.</summary>
    private readonly struct BodyWriter(ArrayBufferWriter<byte> buffer)
    {
        public void Byte(byte value)
        {
            buffer.GetSpan(1)[0] = value;
            buffer.Advance(1);
        }

        public void Unsigned(ulong value)
        {
            Span<byte> span = buffer.GetSpan(10);
            int length = 0;
            while (value >= 0x80)
            {
                span[length++] = (byte)(value | 0x80);
                value >>= 7;
            }

            span[length++] = (byte)value;
            buffer.Advance(length);
        }

        public void Signed(long value) => Unsigned((ulong)((value << 1) ^ (value >> 63)));

        public void Bytes(ReadOnlySpan<byte> value)
        {
            Unsigned((ulong)value.Length);
            value.CopyTo(buffer.GetSpan(value.Length));
            buffer.Advance(value.Length);
        }

        public void String(string value) => Bytes(Encoding.UTF8.GetBytes(value));

        // 0 for null, else the length plus one.
        public void OptionalString(string? value)
        {
            if (value is null)
            {
                Unsigned(0);
                return;
            }

            byte[] bytes = Encoding.UTF8.GetBytes(value);
            Unsigned((ulong)bytes.Length + 1);
            bytes.CopyTo(buffer.GetSpan(bytes.Length));
            buffer.Advance(bytes.Length);
        }

        public Span<byte> Reserve(int length)
        {
            Span<byte> span = buffer.GetSpan(length)[..length];
            buffer.Advance(length);
            return span;
        }

        public byte[] ToArray() => buffer.WrittenSpan.ToArray();
    }
}
