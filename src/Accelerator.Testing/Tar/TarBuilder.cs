using System.IO.Compression;
using System.Text;

namespace Accelerator.Testing.Tar;

/// <summary>
/// Writes tar archives for tests, including hostile ones: names are written exactly as given (<c>../x</c>,
/// <c>/etc/x</c>), with ustar, pax and GNU extensions, xattrs, devices, whiteouts and sparse files.
/// </summary>
public sealed class TarBuilder
{
    private const int Block = 512;
    private readonly MemoryStream _output = new();
    private readonly bool _gnu;
    private int _paxCount;

    /// <summary>Creates a builder.</summary>
    /// <param name="gnuFormat">Write GNU headers and GNU long names (<c>L</c>/<c>K</c>) instead of ustar headers and pax records.</param>
    public TarBuilder(bool gnuFormat = false) => _gnu = gnuFormat;

    /// <summary>The default modification time of entries (2023-11-14T22:13:20Z).</summary>
    public const long DefaultTime = 1_700_000_000;

    /// <summary>Adds an entry described field by field.</summary>
    public TarBuilder Add(TarBuilderEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var records = new List<KeyValuePair<string, byte[]>>();
        byte[] name = Encoding.UTF8.GetBytes(entry.Path);
        byte[] link = Encoding.UTF8.GetBytes(entry.LinkTarget ?? string.Empty);
        if (name.Length > 100)
        {
            if (_gnu)
            {
                WriteGnuLong('L', name);
            }
            else
            {
                records.Add(new("path", name));
            }
        }

        if (link.Length > 100)
        {
            if (_gnu)
            {
                WriteGnuLong('K', link);
            }
            else
            {
                records.Add(new("linkpath", link));
            }
        }

        if (entry.ModificationNanoseconds != 0)
        {
            records.Add(new("mtime", Encoding.ASCII.GetBytes($"{entry.ModificationTime}.{entry.ModificationNanoseconds:D9}")));
        }

        foreach (var (key, value) in entry.ExtendedAttributes)
        {
            records.Add(new("SCHILY.xattr." + key, value));
        }

        records.AddRange(entry.ExtraPaxRecords);
        if (records.Count > 0)
        {
            WritePax('x', records, entry.Path);
        }

        WriteHeader(name.Length > 100 ? name[..100] : name, entry.TypeFlag, entry.Mode, entry.Uid, entry.Gid,
            entry.Data.Length, entry.ModificationTime, link.Length > 100 ? link[..100] : link,
            entry.UserName, entry.GroupName, entry.DeviceMajor, entry.DeviceMinor, gnuSparse: null);
        WriteData(entry.Data);
        return this;
    }

    /// <summary>Adds a regular file.</summary>
    public TarBuilder AddFile(string path, byte[] content, UnixFileMode mode = (UnixFileMode)0x1A4, long uid = 0, long gid = 0,
        IReadOnlyDictionary<string, byte[]>? xattrs = null, long modificationTime = DefaultTime, int nanoseconds = 0) =>
        Add(new TarBuilderEntry
        {
            Path = path, TypeFlag = '0', Mode = mode, Uid = uid, Gid = gid, Data = content,
            ExtendedAttributes = xattrs ?? new Dictionary<string, byte[]>(), ModificationTime = modificationTime,
            ModificationNanoseconds = nanoseconds,
        });

    /// <summary>Adds a regular file with UTF-8 text.</summary>
    public TarBuilder AddFile(string path, string content) => AddFile(path, Encoding.UTF8.GetBytes(content));

    /// <summary>Adds a directory.</summary>
    public TarBuilder AddDirectory(string path, UnixFileMode mode = (UnixFileMode)0x1ED, long uid = 0, long gid = 0, long modificationTime = DefaultTime) =>
        Add(new TarBuilderEntry { Path = path, TypeFlag = '5', Mode = mode, Uid = uid, Gid = gid, ModificationTime = modificationTime });

    /// <summary>Adds a symbolic link.</summary>
    public TarBuilder AddSymlink(string path, string target, long uid = 0, long gid = 0, long modificationTime = DefaultTime) =>
        Add(new TarBuilderEntry { Path = path, TypeFlag = '2', Mode = (UnixFileMode)0x1FF, LinkTarget = target, Uid = uid, Gid = gid, ModificationTime = modificationTime });

    /// <summary>Adds a hard link to <paramref name="target"/> (an archive path).</summary>
    public TarBuilder AddHardLink(string path, string target) =>
        Add(new TarBuilderEntry { Path = path, TypeFlag = '1', Mode = (UnixFileMode)0x1A4, LinkTarget = target });

    /// <summary>Adds a character device.</summary>
    public TarBuilder AddCharacterDevice(string path, int major, int minor, UnixFileMode mode = (UnixFileMode)0x1B6) =>
        Add(new TarBuilderEntry { Path = path, TypeFlag = '3', Mode = mode, DeviceMajor = major, DeviceMinor = minor });

    /// <summary>Adds a block device.</summary>
    public TarBuilder AddBlockDevice(string path, int major, int minor, UnixFileMode mode = (UnixFileMode)0x1B0) =>
        Add(new TarBuilderEntry { Path = path, TypeFlag = '4', Mode = mode, DeviceMajor = major, DeviceMinor = minor });

    /// <summary>Adds a named pipe.</summary>
    public TarBuilder AddFifo(string path, UnixFileMode mode = (UnixFileMode)0x1A4) =>
        Add(new TarBuilderEntry { Path = path, TypeFlag = '6', Mode = mode });

    /// <summary>Adds the whiteout that deletes <paramref name="path"/> of lower layers (<c>DIR/.wh.NAME</c>).</summary>
    public TarBuilder AddWhiteout(string path)
    {
        int slash = path.LastIndexOf('/');
        string whiteout = slash < 0 ? ".wh." + path : path[..(slash + 1)] + ".wh." + path[(slash + 1)..];
        return AddFile(whiteout, []);
    }

    /// <summary>Adds the marker that makes <paramref name="directory"/> opaque (<c>DIR/.wh..wh..opq</c>).</summary>
    public TarBuilder AddOpaque(string directory) => AddFile(directory.TrimEnd('/') + "/.wh..wh..opq", []);

    /// <summary>Adds a pax global header (<c>g</c>) whose records apply to every later entry.</summary>
    public TarBuilder AddGlobalPax(IEnumerable<KeyValuePair<string, byte[]>> records)
    {
        WritePax('g', records.ToList(), "global");
        return this;
    }

    /// <summary>Appends raw bytes (for malformed archives).</summary>
    public TarBuilder AddRaw(ReadOnlySpan<byte> bytes)
    {
        _output.Write(bytes);
        return this;
    }

    /// <summary>Adds a sparse file of <paramref name="size"/> bytes whose data are <paramref name="segments"/>; the rest are holes.</summary>
    public TarBuilder AddSparseFile(string path, long size, IReadOnlyList<(long Offset, byte[] Data)> segments, TarSparseFormat format,
        UnixFileMode mode = (UnixFileMode)0x1A4)
    {
        byte[] data = [.. segments.SelectMany(s => s.Data)];
        byte[] name = Encoding.UTF8.GetBytes(path);
        switch (format)
        {
            case TarSparseFormat.GnuOld:
                if (!_gnu)
                {
                    throw new InvalidOperationException("Old GNU sparse entries need a builder in GNU format.");
                }

                WriteHeader(name, 'S', mode, 0, 0, data.Length, DefaultTime, [], null, null, 0, 0, gnuSparse: (segments, size));
                WriteData(data);
                return this;

            case TarSparseFormat.Pax00:
            {
                var records = new List<KeyValuePair<string, byte[]>>
                {
                    new("GNU.sparse.size", Ascii(size)),
                    new("GNU.sparse.numblocks", Ascii(segments.Count)),
                };
                foreach (var (offset, bytes) in segments)
                {
                    records.Add(new("GNU.sparse.offset", Ascii(offset)));
                    records.Add(new("GNU.sparse.numbytes", Ascii(bytes.Length)));
                }

                WritePax('x', records, path);
                WriteHeader(name, '0', mode, 0, 0, data.Length, DefaultTime, [], null, null, 0, 0, null);
                WriteData(data);
                return this;
            }

            case TarSparseFormat.Pax01:
            {
                string map = string.Join(",", segments.Select(s => $"{s.Offset},{s.Data.Length}"));
                WritePax('x', [new("GNU.sparse.size", Ascii(size)), new("GNU.sparse.numblocks", Ascii(segments.Count)),
                    new("GNU.sparse.map", Encoding.ASCII.GetBytes(map))], path);
                WriteHeader(name, '0', mode, 0, 0, data.Length, DefaultTime, [], null, null, 0, 0, null);
                WriteData(data);
                return this;
            }

            default:
            {
                var map = new StringBuilder();
                map.Append(segments.Count).Append('\n');
                foreach (var (offset, bytes) in segments)
                {
                    map.Append(offset).Append('\n').Append(bytes.Length).Append('\n');
                }

                byte[] mapBytes = Encoding.ASCII.GetBytes(map.ToString());
                byte[] stored = new byte[Pad(mapBytes.Length) + data.Length];
                mapBytes.CopyTo(stored, 0);
                data.CopyTo(stored, Pad(mapBytes.Length));
                WritePax('x', [new("GNU.sparse.major", "1"u8.ToArray()), new("GNU.sparse.minor", "0"u8.ToArray()),
                    new("GNU.sparse.name", name), new("GNU.sparse.realsize", Ascii(size))], path);
                WriteHeader(Encoding.UTF8.GetBytes("GNUSparseFile.0/" + Path.GetFileName(path)), '0', mode, 0, 0, stored.Length,
                    DefaultTime, [], null, null, 0, 0, null);
                WriteData(stored);
                return this;
            }
        }
    }

    /// <summary>The archive with its end marker (two zero blocks).</summary>
    public byte[] ToArray() => [.. _output.ToArray(), .. new byte[2 * Block]];

    /// <summary>The archive without an end marker, as written so far.</summary>
    public byte[] ToArrayWithoutEnd() => _output.ToArray();

    /// <summary>The archive, gzip-compressed.</summary>
    public byte[] ToGzip()
    {
        var compressed = new MemoryStream();
        using (var gzip = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(ToArray());
        }

        return compressed.ToArray();
    }

    /// <summary>The archive, zstd-compressed.</summary>
    public byte[] ToZstd()
    {
        using var compressor = new ZstdSharp.Compressor(3);
        return compressor.Wrap(ToArray()).ToArray();
    }

    private static byte[] Ascii(long value) => Encoding.ASCII.GetBytes(value.ToString(System.Globalization.CultureInfo.InvariantCulture));

    private static int Pad(int length) => (length + Block - 1) / Block * Block;

    private void WriteGnuLong(char type, byte[] value)
    {
        byte[] data = [.. value, 0];
        WriteHeader("././@LongLink"u8.ToArray(), type, 0, 0, 0, data.Length, 0, [], null, null, 0, 0, null);
        WriteData(data);
    }

    private void WritePax(char type, List<KeyValuePair<string, byte[]>> records, string path)
    {
        var data = new MemoryStream();
        foreach (var (key, value) in records)
        {
            int fixedLength = 1 + Encoding.UTF8.GetByteCount(key) + 1 + value.Length + 1;
            int length = fixedLength + 1;
            while (length != fixedLength + length.ToString(System.Globalization.CultureInfo.InvariantCulture).Length)
            {
                length = fixedLength + length.ToString(System.Globalization.CultureInfo.InvariantCulture).Length;
            }

            data.Write(Encoding.ASCII.GetBytes($"{length} {key}="));
            data.Write(value);
            data.WriteByte((byte)'\n');
        }

        string headerName = $"PaxHeaders.{++_paxCount}/{Path.GetFileName(path.TrimEnd('/'))}";
        byte[] nameBytes = Encoding.UTF8.GetBytes(headerName);
        WriteHeader(nameBytes.Length > 100 ? nameBytes[..100] : nameBytes, type, (UnixFileMode)0x1A4, 0, 0, data.Length, DefaultTime, [], null, null, 0, 0, null);
        WriteData(data.ToArray());
    }

    private void WriteData(byte[] data)
    {
        _output.Write(data);
        _output.Write(new byte[Pad(data.Length) - data.Length]);
    }

    private void WriteHeader(byte[] name, char type, UnixFileMode mode, long uid, long gid, long size, long mtime, byte[] link,
        string? userName, string? groupName, int major, int minor, (IReadOnlyList<(long Offset, byte[] Data)> Segments, long RealSize)? gnuSparse)
    {
        byte[] block = new byte[Block];
        name.AsSpan(0, Math.Min(100, name.Length)).CopyTo(block);
        WriteNumber(block.AsSpan(100, 8), (long)mode);
        WriteNumber(block.AsSpan(108, 8), uid);
        WriteNumber(block.AsSpan(116, 8), gid);
        WriteNumber(block.AsSpan(124, 12), size);
        WriteNumber(block.AsSpan(136, 12), mtime);
        block[156] = (byte)type;
        link.AsSpan(0, Math.Min(100, link.Length)).CopyTo(block.AsSpan(157));
        (_gnu ? "ustar  \0"u8 : "ustar\u000000"u8).CopyTo(block.AsSpan(257));
        Encoding.UTF8.GetBytes(userName ?? (uid == 0 ? "root" : string.Empty)).AsSpan().CopyTo(block.AsSpan(265, 32));
        Encoding.UTF8.GetBytes(groupName ?? (gid == 0 ? "root" : string.Empty)).AsSpan().CopyTo(block.AsSpan(297, 32));
        WriteNumber(block.AsSpan(329, 8), major);
        WriteNumber(block.AsSpan(337, 8), minor);

        List<byte[]> extensions = [];
        if (gnuSparse is { } sparse)
        {
            var segments = sparse.Segments;
            int offset = 0;
            for (int i = 0; i < Math.Min(4, segments.Count); i++)
            {
                WriteNumber(block.AsSpan(386 + (i * 24), 12), segments[i].Offset);
                WriteNumber(block.AsSpan(386 + (i * 24) + 12, 12), segments[i].Data.Length);
                offset = i + 1;
            }

            WriteNumber(block.AsSpan(483, 12), sparse.RealSize);
            while (offset < segments.Count)
            {
                byte[] extension = new byte[Block];
                for (int i = 0; i < 21 && offset < segments.Count; i++, offset++)
                {
                    WriteNumber(extension.AsSpan(i * 24, 12), segments[offset].Offset);
                    WriteNumber(extension.AsSpan((i * 24) + 12, 12), segments[offset].Data.Length);
                }

                extensions.Add(extension);
            }

            if (extensions.Count > 0)
            {
                block[482] = 1;
                for (int i = 0; i < extensions.Count - 1; i++)
                {
                    extensions[i][504] = 1;
                }
            }
        }

        // Checksum: sum of all bytes with the checksum field as spaces, written as six octal digits, NUL, space.
        block.AsSpan(148, 8).Fill((byte)' ');
        int sum = 0;
        foreach (byte b in block)
        {
            sum += b;
        }

        Encoding.ASCII.GetBytes(Convert.ToString(sum, 8).PadLeft(6, '0')).CopyTo(block, 148);
        block[154] = 0;
        block[155] = (byte)' ';
        _output.Write(block);
        foreach (byte[] extension in extensions)
        {
            _output.Write(extension);
        }
    }

    // Octal when it fits (digits then NUL), else GNU base-256 (0x80 marker, big-endian).
    private static void WriteNumber(Span<byte> field, long value)
    {
        string octal = Convert.ToString(value, 8);
        if (value >= 0 && octal.Length <= field.Length - 1)
        {
            Encoding.ASCII.GetBytes(octal.PadLeft(field.Length - 1, '0')).CopyTo(field);
            field[^1] = 0;
            return;
        }

        field.Fill(value < 0 ? (byte)0xFF : (byte)0);
        for (int i = field.Length - 1; i >= 1 && i >= field.Length - 8; i--)
        {
            field[i] = (byte)value;
            value >>= 8;
        }

        field[0] = value < 0 ? (byte)0xFF : (byte)0x80;
    }
}
