using System.Buffers.Binary;
using System.Text;
using Accelerator.Linux;
using Accelerator.Oci.Layers;
using ZstdSharp;

namespace Accelerator.Seekable.Gzip;

public sealed partial class GzipLayerIndex
{
    /// <summary>The blob format version this code writes and reads.</summary>
    public const uint Version = 1;

    /// <summary>The largest uncompressed body accepted by <see cref="Read"/>: 256 MiB.</summary>
    public const int MaxBodyBytes = 256 << 20;

    private const int HeaderSize = 12;
    private const int DigestBytes = 32;
    private const byte GzipFormatCode = 1;
    private const byte TarFormatCode = 2;

    // The fewest body bytes one entry and one span take: bounds counts by the bytes left before anything is allocated.
    private const int MinEntryBytes = 16;
    private const int MinTarSpanBytes = DigestBytes;
    private const int MinGzipSpanBytes = DigestBytes + 4;

    private static readonly IReadOnlyDictionary<string, ReadOnlyMemory<byte>> NoAttributes = new Dictionary<string, ReadOnlyMemory<byte>>(0);

    private static ReadOnlySpan<byte> Magic => "ACCELGZI"u8;

    /// <summary>
    /// Reads an index blob and checks that it is the index of <paramref name="layer"/> (same digest and size). Every
    /// count and length is bounded before it is used; the result is validated as the builder's is.
    /// </summary>
    /// <param name="blob">The blob (verified against its own digest by the caller).</param>
    /// <param name="layer">The layer the caller wants the index of.</param>
    /// <exception cref="InvalidDataException">The blob is not a valid index of this version, or indexes another layer.</exception>
    public static GzipLayerIndex Read(ReadOnlySpan<byte> blob, Descriptor layer)
    {
        ArgumentNullException.ThrowIfNull(layer);
        if (blob.Length < HeaderSize || !blob[..Magic.Length].SequenceEqual(Magic))
        {
            throw new InvalidDataException("The blob is not a seekable gzip index (bad magic).");
        }

        uint version = BinaryPrimitives.ReadUInt32LittleEndian(blob[Magic.Length..]);
        if (version != Version)
        {
            throw new InvalidDataException($"The seekable gzip index is version {version}; this reader understands version {Version}.");
        }

        ReadOnlySpan<byte> frame = blob[HeaderSize..];
        byte[] body;
        try
        {
            ulong size = Decompressor.GetDecompressedSize(frame);
            if (size == 0 || size > MaxBodyBytes)
            {
                throw new InvalidDataException($"The seekable gzip index body declares {size} bytes; 1 to {MaxBodyBytes} are allowed.");
            }

            body = new byte[(int)size];
            using var decompressor = new Decompressor();
            if (decompressor.Unwrap(frame, body) != body.Length)
            {
                throw new InvalidDataException("The seekable gzip index body is shorter than its frame declares.");
            }
        }
        catch (ZstdException ex)
        {
            throw new InvalidDataException($"The seekable gzip index body is not a valid zstd frame: {ex.Message}", ex);
        }

        return ReadBody(body, layer);
    }

    /// <summary>Reads and validates an uncompressed body.</summary>
    internal static GzipLayerIndex ReadBody(ReadOnlySpan<byte> body, Descriptor layer)
    {
        var reader = new BodyReader(body);
        string digest = reader.String(MaxNameBytes, "layer digest");
        long layerSize = reader.Long("layer size");
        if (digest != layer.Digest.Value || layerSize != layer.Size)
        {
            throw new InvalidDataException($"The seekable index is of layer {Truncate(digest)} ({layerSize} bytes), not of {layer.Digest} ({layer.Size} bytes).");
        }

        byte format = reader.Byte("format");
        if (format is not (GzipFormatCode or TarFormatCode))
        {
            throw new InvalidDataException($"The seekable index has unknown format {format}.");
        }

        bool gzip = format == GzipFormatCode;
        int spanSize = reader.Int("span size");
        long uncompressedSize = reader.Long("uncompressed size");

        int entryCount = reader.Count(MaxEntries, MinEntryBytes, "entries");
        var entries = new SeekableEntry[entryCount];
        for (int i = 0; i < entries.Length; i++)
        {
            entries[i] = ReadEntry(ref reader, uncompressedSize);
        }

        int unitCount = reader.Count(MaxUnits, gzip ? MinGzipSpanBytes : MinTarSpanBytes, "spans");
        var digests = new Digest[unitCount];
        GzipCheckpoint[]? checkpoints = gzip ? new GzipCheckpoint[unitCount] : null;
        long byteOffset = 0, dataOffset = 0;
        for (int i = 0; i < unitCount; i++)
        {
            if (checkpoints is not null)
            {
                byteOffset = Add(byteOffset, reader.Long("checkpoint offset"));
                int bits = reader.Byte("checkpoint bits");
                dataOffset = Add(dataOffset, reader.Long("checkpoint data offset"));
                ReadOnlySpan<byte> window = reader.Bytes(ZlibInflater.WindowSize + 1024, "window");
                if (window.Length > 0)
                {
                    ulong windowSize = WindowSize(window);
                    if (windowSize > ZlibInflater.WindowSize)
                    {
                        throw new InvalidDataException($"Checkpoint {i} declares a window of {windowSize} bytes.");
                    }
                }

                checkpoints[i] = new GzipCheckpoint(byteOffset, bits, dataOffset, window.Length == 0 ? null : window.ToArray());
            }

            digests[i] = Digest.FromHash(Digest.Sha256, reader.Fixed(DigestBytes, "span digest"));
        }

        if (!reader.End)
        {
            throw new InvalidDataException("The seekable index has bytes after its last span.");
        }

        return new GzipLayerIndex(layer, gzip, spanSize, uncompressedSize, entries, checkpoints, digests);
    }

    private static ulong WindowSize(ReadOnlySpan<byte> window)
    {
        try
        {
            return Decompressor.GetDecompressedSize(window);
        }
        catch (ZstdException ex)
        {
            throw new InvalidDataException($"A checkpoint window is not a zstd frame: {ex.Message}", ex);
        }
    }

    private static SeekableEntry ReadEntry(ref BodyReader reader, long uncompressedSize)
    {
        string path = reader.String(MaxNameBytes, "entry path");
        if (path.Length == 0)
        {
            throw new InvalidDataException("An entry of the seekable index has an empty path.");
        }

        byte kindCode = reader.Byte("entry kind");
        var kind = (TarEntryKind)kindCode;
        if (!Enum.IsDefined(kind))
        {
            throw new InvalidDataException($"Entry '{path}' has unknown kind {kindCode}.");
        }

        long mode = reader.Long("mode");
        if (mode > 0xFFF)
        {
            throw new InvalidDataException($"Entry '{path}' has mode bits beyond 07777.");
        }

        long uid = reader.SignedLong("uid");
        long gid = reader.SignedLong("gid");
        string? userName = reader.OptionalString(MaxNameBytes, "user name");
        string? groupName = reader.OptionalString(MaxNameBytes, "group name");
        long size = reader.Long("size");
        long seconds = reader.SignedLong("mtime");
        long nanoseconds = reader.Long("mtime nanoseconds");
        string? linkTarget = reader.OptionalString(MaxNameBytes, "link target");
        long major = reader.Long("device major");
        long minor = reader.Long("device minor");
        if (nanoseconds > 999_999_999 || major > int.MaxValue || minor > int.MaxValue
            || (kind != TarEntryKind.RegularFile && size != 0)
            || (kind is TarEntryKind.HardLink or TarEntryKind.SymbolicLink) != (linkTarget is { Length: > 0 })
            || (kind is not (TarEntryKind.CharacterDevice or TarEntryKind.BlockDevice) && (major | minor) != 0))
        {
            throw new InvalidDataException($"Entry '{path}' has inconsistent attributes.");
        }

        int attributeCount = reader.Count(MaxAttributesPerEntry, 2, "extended attributes");
        Dictionary<string, ReadOnlyMemory<byte>>? attributes = attributeCount == 0 ? null : new(attributeCount, StringComparer.Ordinal);
        for (int i = 0; i < attributeCount; i++)
        {
            string name = reader.String(MaxNameBytes, "attribute name");
            byte[] value = reader.Bytes(MaxAttributeValueBytes, "attribute value").ToArray();
            if (name.Length == 0 || !attributes!.TryAdd(name, value))
            {
                throw new InvalidDataException($"Entry '{path}' has an empty or repeated extended attribute name.");
            }
        }

        long dataOffset = reader.Long("data offset");
        if ((size == 0 && dataOffset != 0) || dataOffset > uncompressedSize || size > uncompressedSize - dataOffset)
        {
            throw new InvalidDataException($"The content of entry '{path}' ({dataOffset}+{size}) lies outside the layer's {uncompressedSize} bytes.");
        }

        // Most entries have no attributes: they share the header's empty default instead of one dictionary each.
        var header = new TarEntryHeader
        {
            Path = path,
            Kind = kind,
            Mode = (UnixFileMode)mode,
            Uid = uid,
            Gid = gid,
            UserName = userName,
            GroupName = groupName,
            Size = size,
            ModificationTime = new TarTimestamp(seconds, (int)nanoseconds),
            LinkTarget = linkTarget,
            DeviceMajor = (int)major,
            DeviceMinor = (int)minor,
            ExtendedAttributes = attributes ?? NoAttributes,
        };
        return new SeekableEntry(header, dataOffset);
    }

    private static long Add(long offset, long delta) =>
        delta <= long.MaxValue - offset ? offset + delta : throw new InvalidDataException("The seekable index has a checkpoint offset out of range.");

    private static string Truncate(string value) => value.Length <= 80 ? value : value[..80] + "…";

    /// <summary>A bounded reader of the body: every read checks the bytes left and throws <see cref="InvalidDataException"/>.</summary>
    private ref struct BodyReader(ReadOnlySpan<byte> body)
    {
        private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

        private ReadOnlySpan<byte> _rest = body;

        public readonly bool End => _rest.IsEmpty;

        public byte Byte(string what)
        {
            if (_rest.IsEmpty)
            {
                throw Truncated(what);
            }

            byte value = _rest[0];
            _rest = _rest[1..];
            return value;
        }

        public ulong Unsigned(string what)
        {
            ulong value = 0;
            for (int shift = 0; shift < 64; shift += 7)
            {
                byte b = Byte(what);
                if (shift == 63 && b > 1)
                {
                    break;
                }

                value |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80)
                {
                    return value;
                }
            }

            throw new InvalidDataException($"The seekable index has an over-long number ({what}).");
        }

        public long Long(string what)
        {
            ulong value = Unsigned(what);
            return value <= long.MaxValue ? (long)value : throw new InvalidDataException($"The seekable index has an out-of-range {what}.");
        }

        public int Int(string what)
        {
            ulong value = Unsigned(what);
            return value <= int.MaxValue ? (int)value : throw new InvalidDataException($"The seekable index has an out-of-range {what}.");
        }

        public long SignedLong(string what)
        {
            ulong value = Unsigned(what);
            return (long)(value >> 1) ^ -(long)(value & 1);
        }

        public int Count(int max, int minBytesEach, string what)
        {
            ulong count = Unsigned(what);
            if (count > (ulong)max || count > (ulong)(_rest.Length / minBytesEach))
            {
                throw new InvalidDataException($"The seekable index declares {count} {what}; at most {max} (and what its bytes can hold) are allowed.");
            }

            return (int)count;
        }

        public ReadOnlySpan<byte> Fixed(int length, string what)
        {
            if (_rest.Length < length)
            {
                throw Truncated(what);
            }

            ReadOnlySpan<byte> value = _rest[..length];
            _rest = _rest[length..];
            return value;
        }

        public ReadOnlySpan<byte> Bytes(int max, string what)
        {
            ulong length = Unsigned(what);
            if (length > (ulong)max)
            {
                throw new InvalidDataException($"The seekable index has a {what} of {length} bytes; at most {max} are allowed.");
            }

            return Fixed((int)length, what);
        }

        public string String(int max, string what) => Decode(Bytes(max, what), what);

        public string? OptionalString(int max, string what)
        {
            ulong length = Unsigned(what);
            if (length == 0)
            {
                return null;
            }

            if (length - 1 > (ulong)max)
            {
                throw new InvalidDataException($"The seekable index has a {what} of {length - 1} bytes; at most {max} are allowed.");
            }

            return Decode(Fixed((int)(length - 1), what), what);
        }

        private static string Decode(ReadOnlySpan<byte> bytes, string what)
        {
            try
            {
                string value = StrictUtf8.GetString(bytes);
                return value.Contains('\0') ? throw new InvalidDataException($"The seekable index has a {what} with a NUL character.") : value;
            }
            catch (DecoderFallbackException ex)
            {
                throw new InvalidDataException($"The seekable index has a {what} that is not UTF-8.", ex);
            }
        }

        private static InvalidDataException Truncated(string what) => new($"The seekable index ends inside its {what}.");
    }
}
