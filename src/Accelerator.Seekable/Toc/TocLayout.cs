using System.Globalization;
using System.Text;
using System.Text.Json;
using Accelerator.Oci.Layers;

namespace Accelerator.Seekable.Toc;

/// <summary>How a TOC format says where a chunk's compressed bytes end.</summary>
internal enum TocChunkEnd
{
    /// <summary>eStargz: at the next payload offset of any chunk in the blob (gzip member boundaries), or at the TOC.</summary>
    NextPayloadOffset,

    /// <summary>zstd:chunked: at the next chunk of the same file, the last one at the file's <c>endOffset</c>.</summary>
    FileEndOffset,
}

/// <summary>
/// A TOC turned into the contract's terms: tar entries in TOC order and one unit per chunk. Data space: every regular
/// file's content laid end to end in TOC order.
/// </summary>
internal sealed class TocLayout
{
    /// <summary>The largest TOC (compressed or not) accepted: 64 MiB.</summary>
    public const int MaxTocBytes = 64 << 20;

    /// <summary>The most tar entries a TOC may list.</summary>
    public const int MaxEntries = 1_000_000;

    /// <summary>The most chunks (units) a TOC may list.</summary>
    public const int MaxUnits = 4_000_000;

    /// <summary>The longest entry name or link target, in UTF-8 bytes.</summary>
    public const int MaxNameBytes = 4096;

    /// <summary>The most extended attributes on one entry.</summary>
    public const int MaxAttributesPerEntry = 1024;

    /// <summary>The largest extended attribute value.</summary>
    public const int MaxAttributeValueBytes = 64 << 10;

    /// <summary>The most file content a layer may hold: 1 PiB (keeps every data offset far from overflow).</summary>
    public const long MaxDataBytes = 1L << 50;

    // A chunk's compressed range may hold more than its payload (eStargz: tar padding and the next entries' headers in
    // the same gzip member); beyond this the TOC is not believed.
    private const long MaxCompressedUnitBytes = 2L * SeekableLayerIndex.MaxUnitBytes;

    private TocLayout(List<SeekableEntry> entries, List<SeekableUnit> units, long dataLength)
    {
        Entries = entries;
        Units = units;
        DataLength = dataLength;
    }

    /// <summary>The tar entries, in TOC order.</summary>
    public List<SeekableEntry> Entries { get; }

    /// <summary>One unit per chunk, in data order.</summary>
    public List<SeekableUnit> Units { get; }

    /// <summary>The length of the data space (the sum of the regular files' sizes).</summary>
    public long DataLength { get; }

    /// <summary>Parses TOC JSON.</summary>
    /// <exception cref="InvalidDataException">Not JSON of the TOC's shape, or not version 1.</exception>
    public static TocDocument ParseDocument(ReadOnlySpan<byte> json, string what)
    {
        if (json.Length > MaxTocBytes)
        {
            throw new InvalidDataException($"The {what} is {json.Length} bytes; at most {MaxTocBytes} are accepted.");
        }

        TocDocument? document;
        try
        {
            document = JsonSerializer.Deserialize(json, TocJsonContext.Default.TocDocument);
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"The {what} is not valid JSON: {ex.Message}", ex);
        }

        if (document is null || document.Entries is null)
        {
            throw new InvalidDataException($"The {what} has no entries list.");
        }

        if (document.Version != 1)
        {
            throw new InvalidDataException($"The {what} is version {document.Version}; version 1 is understood.");
        }

        return document;
    }

    /// <summary>Maps a parsed TOC to entries and units, validating every name, size, offset and digest.</summary>
    /// <param name="document">The TOC.</param>
    /// <param name="what">The TOC's name in error messages ("eStargz TOC of layer sha256:…").</param>
    /// <param name="chunkEnd">How the format bounds a chunk's compressed bytes.</param>
    /// <param name="payloadEnd">Where the payload region of the blob ends (the TOC's or manifest's first byte).</param>
    /// <exception cref="InvalidDataException">The TOC is inconsistent, out of bounds or incomplete.</exception>
    public static TocLayout Build(TocDocument document, string what, TocChunkEnd chunkEnd, long payloadEnd)
    {
        var tocEntries = document.Entries!;
        if (tocEntries.Count > MaxEntries + MaxUnits)
        {
            throw new InvalidDataException($"The {what} lists {tocEntries.Count} entries; at most {MaxEntries} entries and {MaxUnits} chunks are accepted.");
        }

        long[] payloadOffsets = chunkEnd == TocChunkEnd.NextPayloadOffset ? PayloadOffsets(tocEntries, what, payloadEnd) : [];
        var entries = new List<SeekableEntry>();
        var units = new List<SeekableUnit>();
        var userNames = new Dictionary<long, string>();
        var groupNames = new Dictionary<long, string>();
        long dataEnd = 0;
        int index = 0;
        while (index < tocEntries.Count)
        {
            var entry = tocEntries[index] ?? throw new InvalidDataException($"The {what} has a null entry (#{index}).");
            if (entry.Type == "chunk")
            {
                throw new InvalidDataException($"The {what} has a chunk entry (#{index}) that follows no regular file.");
            }

            if (entries.Count == MaxEntries)
            {
                throw new InvalidDataException($"The {what} lists more than {MaxEntries} entries.");
            }

            var header = ToHeader(entry, index, what, userNames, groupNames);
            long dataOffset = 0;
            int next = index + 1;
            if (header.Kind == TarEntryKind.RegularFile)
            {
                while (next < tocEntries.Count && tocEntries[next]?.Type == "chunk")
                {
                    next++;
                }

                if (header.Size > 0)
                {
                    if (header.Size > MaxDataBytes - dataEnd)
                    {
                        throw new InvalidDataException($"The {what} lists more than {MaxDataBytes} bytes of file content.");
                    }

                    dataOffset = dataEnd;
                    AddChunks(tocEntries, index, next, header.Size, dataOffset, what, chunkEnd, payloadOffsets, payloadEnd, units);
                    dataEnd += header.Size;
                }
                else if (next != index + 1)
                {
                    throw new InvalidDataException($"The {what} lists chunks for the empty file '{header.Path}'.");
                }
            }

            entries.Add(new SeekableEntry(header, dataOffset));
            index = next;
        }

        return new TocLayout(entries, units, dataEnd);
    }

    /// <summary>Every distinct payload offset of the TOC, sorted (eStargz: the gzip members that start a chunk).</summary>
    private static long[] PayloadOffsets(List<TocEntry> entries, string what, long payloadEnd)
    {
        var offsets = new List<long>();
        foreach (var entry in entries)
        {
            if (entry is null)
            {
                continue;
            }

            if ((entry.Type == "reg" && entry.Size > 0) || entry.Type == "chunk")
            {
                if (entry.Offset < 0 || entry.Offset >= payloadEnd)
                {
                    throw new InvalidDataException($"The {what} has a chunk of '{entry.Name}' at offset {entry.Offset}, outside the payload (0 to {payloadEnd}).");
                }

                offsets.Add(entry.Offset);
            }
        }

        offsets.Sort();
        return [.. offsets.Distinct()];
    }

    private static void AddChunks(List<TocEntry> tocEntries, int first, int end, long fileSize, long dataBase, string what,
        TocChunkEnd chunkEnd, long[] payloadOffsets, long payloadEnd, List<SeekableUnit> units)
    {
        var file = tocEntries[first];
        long covered = 0;
        for (int i = first; i < end; i++)
        {
            var chunk = tocEntries[i];
            if (i > first && chunk.Name is { Length: > 0 } name && name != file.Name)
            {
                throw new InvalidDataException($"The {what} has a chunk of '{name}' among the chunks of '{file.Name}'.");
            }

            if (chunk.ChunkOffset != covered)
            {
                throw new InvalidDataException($"The {what} has a chunk of '{file.Name}' at file offset {chunk.ChunkOffset}; {covered} was expected.");
            }

            long size = chunk.ChunkSize == 0 ? fileSize - covered : chunk.ChunkSize;
            if (size < 1 || size > SeekableLayerIndex.MaxUnitBytes || size > fileSize - covered)
            {
                throw new InvalidDataException($"The {what} has a chunk of '{file.Name}' of {size} bytes at file offset {covered} (file size {fileSize}; a chunk is 1 to {SeekableLayerIndex.MaxUnitBytes} bytes).");
            }

            string? digestText = chunk.ChunkDigest is { Length: > 0 } ? chunk.ChunkDigest : (end == first + 1 ? file.Digest : null);
            if (!Accelerator.Digest.TryParse(digestText, out var digest) || digest.Algorithm != Accelerator.Digest.Sha256)
            {
                throw new InvalidDataException($"The {what} has no valid sha256 chunk digest for '{file.Name}' at file offset {covered} ('{digestText}'): its bytes could not be verified.");
            }

            long start = chunk.Offset;
            long stop = chunkEnd == TocChunkEnd.NextPayloadOffset
                ? NextOffset(payloadOffsets, start, payloadEnd)
                : i + 1 < end ? tocEntries[i + 1].Offset : file.EndOffset;
            if (start < 0 || stop <= start || stop > payloadEnd || stop - start > MaxCompressedUnitBytes)
            {
                throw new InvalidDataException($"The {what} places a chunk of '{file.Name}' at blob bytes {start} to {stop}, outside the payload (0 to {payloadEnd}) or too large.");
            }

            if (units.Count == MaxUnits)
            {
                throw new InvalidDataException($"The {what} lists more than {MaxUnits} chunks.");
            }

            units.Add(new SeekableUnit(start, (int)(stop - start), dataBase + covered, (int)size, digest));
            covered += size;
        }

        if (covered != fileSize)
        {
            throw new InvalidDataException($"The chunks of '{file.Name}' in the {what} cover {covered} of its {fileSize} bytes.");
        }
    }

    private static long NextOffset(long[] sorted, long offset, long payloadEnd)
    {
        int at = Array.BinarySearch(sorted, offset);
        at = at < 0 ? ~at : at + 1;
        return at < sorted.Length ? sorted[at] : payloadEnd;
    }

    private static TarEntryHeader ToHeader(TocEntry entry, int index, string what, Dictionary<long, string> userNames, Dictionary<long, string> groupNames)
    {
        string name = CheckName(entry.Name, "name", index, what);
        if (name.Length == 0)
        {
            throw new InvalidDataException($"The {what} has an entry (#{index}) without a name.");
        }

        var kind = entry.Type switch
        {
            "reg" => TarEntryKind.RegularFile,
            "dir" => TarEntryKind.Directory,
            "symlink" => TarEntryKind.SymbolicLink,
            "hardlink" => TarEntryKind.HardLink,
            "char" => TarEntryKind.CharacterDevice,
            "block" => TarEntryKind.BlockDevice,
            "fifo" => TarEntryKind.Fifo,
            _ => throw new InvalidDataException($"The {what} has an entry '{name}' of unknown type '{entry.Type}'."),
        };
        if (entry.Size < 0 || (kind != TarEntryKind.RegularFile && entry.Size != 0))
        {
            throw new InvalidDataException($"The {what} gives '{name}' ({entry.Type}) the size {entry.Size}.");
        }

        if (entry.Uid < 0 || entry.Gid < 0 || entry.Uid > uint.MaxValue || entry.Gid > uint.MaxValue)
        {
            throw new InvalidDataException($"The {what} gives '{name}' the owner {entry.Uid}:{entry.Gid}.");
        }

        string? link = kind is TarEntryKind.SymbolicLink or TarEntryKind.HardLink ? CheckName(entry.LinkName, "link target", index, what) : null;
        if (kind == TarEntryKind.HardLink && link!.Length == 0)
        {
            throw new InvalidDataException($"The {what} has a hard link '{name}' without a target.");
        }

        bool device = kind is TarEntryKind.CharacterDevice or TarEntryKind.BlockDevice;
        if (device && (entry.DeviceMajor is < 0 or > int.MaxValue || entry.DeviceMinor is < 0 or > int.MaxValue))
        {
            throw new InvalidDataException($"The {what} gives the device '{name}' the numbers {entry.DeviceMajor}:{entry.DeviceMinor}.");
        }

        return new TarEntryHeader
        {
            Path = name,
            Kind = kind,
            Mode = (UnixFileMode)(entry.Mode & 0xFFF),
            Uid = entry.Uid,
            Gid = entry.Gid,
            UserName = InheritedName(entry.UserName, entry.Uid, userNames, index, what),
            GroupName = InheritedName(entry.GroupName, entry.Gid, groupNames, index, what),
            Size = entry.Size,
            ModificationTime = ParseTime(entry.ModificationTime, name, what),
            LinkTarget = link,
            DeviceMajor = device ? (int)entry.DeviceMajor : 0,
            DeviceMinor = device ? (int)entry.DeviceMinor : 0,
            ExtendedAttributes = Attributes(entry.ExtendedAttributes, name, what),
        };
    }

    private static string CheckName(string? value, string field, int index, string what)
    {
        value ??= string.Empty;
        if (Encoding.UTF8.GetByteCount(value) > MaxNameBytes)
        {
            throw new InvalidDataException($"The {what} has an entry (#{index}) whose {field} is longer than {MaxNameBytes} bytes.");
        }

        if (value.Contains('\0', StringComparison.Ordinal))
        {
            throw new InvalidDataException($"The {what} has an entry (#{index}) whose {field} holds a NUL character.");
        }

        return value;
    }

    private static string? InheritedName(string? name, long id, Dictionary<long, string> known, int index, string what)
    {
        if (string.IsNullOrEmpty(name))
        {
            return known.GetValueOrDefault(id);
        }

        CheckName(name, "owner name", index, what);
        known.TryAdd(id, name);
        return name;
    }

    private static IReadOnlyDictionary<string, ReadOnlyMemory<byte>> Attributes(Dictionary<string, string>? encoded, string name, string what)
    {
        var attributes = new Dictionary<string, ReadOnlyMemory<byte>>(StringComparer.Ordinal);
        if (encoded is null)
        {
            return attributes;
        }

        if (encoded.Count > MaxAttributesPerEntry)
        {
            throw new InvalidDataException($"The {what} gives '{name}' {encoded.Count} extended attributes; at most {MaxAttributesPerEntry} are accepted.");
        }

        foreach (var (key, value) in encoded)
        {
            if (key.Length == 0 || Encoding.UTF8.GetByteCount(key) > 255 || key.Contains('\0', StringComparison.Ordinal) || value is null)
            {
                throw new InvalidDataException($"The {what} gives '{name}' an invalid extended attribute '{key}'.");
            }

            byte[] bytes;
            try
            {
                bytes = Convert.FromBase64String(value);
            }
            catch (FormatException ex)
            {
                throw new InvalidDataException($"The {what} gives '{name}' the extended attribute '{key}' a value that is not base64.", ex);
            }

            if (bytes.Length > MaxAttributeValueBytes)
            {
                throw new InvalidDataException($"The {what} gives '{name}' the extended attribute '{key}' of {bytes.Length} bytes.");
            }

            attributes[key] = bytes;
        }

        return attributes;
    }

    /// <summary>Parses an RFC 3339 time with up to 9 fraction digits (Go's <c>time.RFC3339Nano</c>); empty is the epoch.</summary>
    internal static TarTimestamp ParseTime(string? text, string name, string what)
    {
        if (string.IsNullOrEmpty(text))
        {
            return default;
        }

        int nanoseconds = 0;
        string whole = text;
        int dot = text.IndexOf('.', StringComparison.Ordinal);
        if (dot >= 0)
        {
            int end = dot + 1;
            while (end < text.Length && char.IsAsciiDigit(text[end]))
            {
                end++;
            }

            int digits = end - dot - 1;
            if (digits is < 1 or > 9)
            {
                throw new InvalidDataException($"The {what} gives '{name}' the time '{text}', not RFC 3339.");
            }

            nanoseconds = int.Parse(text.AsSpan(dot + 1, digits), NumberStyles.None, CultureInfo.InvariantCulture) * (int)Math.Pow(10, 9 - digits);
            whole = string.Concat(text.AsSpan(0, dot), text.AsSpan(end));
        }

        if (whole.Length > 64 || !DateTimeOffset.TryParseExact(whole, ["yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd't'HH:mm:ssK"],
            CultureInfo.InvariantCulture, DateTimeStyles.None, out var time))
        {
            throw new InvalidDataException($"The {what} gives '{name}' the time '{text}', not RFC 3339.");
        }

        return new TarTimestamp(time.ToUnixTimeSeconds(), nanoseconds);
    }
}
