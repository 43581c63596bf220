using System.Buffers;
using System.Text;
using Accelerator.Snapshots.Interop;

namespace Accelerator.Snapshots.Archive;

/// <summary>
/// Writes a directory tree as a POSIX pax tar (IEEE Std 1003.1-2017, "pax Interchange Format") that keeps everything
/// a snapshot layer holds: owners, modes, nanosecond mtimes, binary extended attributes (<c>SCHILY.xattr.NAME</c>
/// records, as GNU tar and the OCI layer tools write them), hard links, symbolic links, devices and FIFOs. Overlay
/// whiteouts (character devices 0/0) and opaque markers (the <c>trusted.overlay.opaque</c> xattr) pass as they are.
/// Sockets are skipped (tar cannot hold them).
/// </summary>
internal static class TreeTarWriter
{
    private const int BlockSize = 512;

    /// <summary>Writes the tree at <paramref name="root"/> (its root as <c>./</c>) to <paramref name="output"/>, ending with two zero blocks.</summary>
    public static async Task WriteAsync(string root, Stream output, CancellationToken cancellationToken)
    {
        var links = new Dictionary<(uint, uint, ulong), string>();
        await WriteEntryAsync(root, "./", output, links, cancellationToken).ConfigureAwait(false);
        foreach (string path in Walk(root))
        {
            cancellationToken.ThrowIfCancellationRequested();
            await WriteEntryAsync(path, Path.GetRelativePath(root, path), output, links, cancellationToken).ConfigureAwait(false);
        }

        await output.WriteAsync(new byte[BlockSize * 2], cancellationToken).ConfigureAwait(false);
    }

    // Parents before children, names in ordinal order (so the archive of a tree is always the same bytes).
    private static IEnumerable<string> Walk(string directory)
    {
        var entries = Directory.EnumerateFileSystemEntries(directory, "*", new EnumerationOptions { AttributesToSkip = 0, IgnoreInaccessible = false, RecurseSubdirectories = false })
            .Order(StringComparer.Ordinal);
        foreach (string path in entries)
        {
            yield return path;
            if (LibC.Lstat(path).IsDirectory)
            {
                foreach (string child in Walk(path))
                {
                    yield return child;
                }
            }
        }
    }

    private static async Task WriteEntryAsync(string path, string name, Stream output, Dictionary<(uint, uint, ulong), string> links, CancellationToken cancellationToken)
    {
        var status = LibC.Lstat(path);
        char type;
        string? linkTarget = null;
        long size = 0;
        switch (status.Type)
        {
            case LibC.S_IFREG when status.Nlink > 1 && links.TryGetValue((status.DevMajor, status.DevMinor, status.Inode), out var first):
                type = '1';
                linkTarget = first;
                break;
            case LibC.S_IFREG:
                type = '0';
                size = status.Size;
                if (status.Nlink > 1)
                {
                    links[(status.DevMajor, status.DevMinor, status.Inode)] = name;
                }

                break;
            case LibC.S_IFDIR:
                type = '5';
                break;
            case LibC.S_IFLNK:
                type = '2';
                linkTarget = new FileInfo(path).LinkTarget ?? string.Empty;
                break;
            case LibC.S_IFCHR:
                type = '3';
                break;
            case LibC.S_IFBLK:
                type = '4';
                break;
            case LibC.S_IFIFO:
                type = '6';
                break;
            default:
                return;
        }

        var records = new List<(string Key, byte[] Value)>
        {
            ("path", Encoding.UTF8.GetBytes(name)),
            ("mtime", Encoding.ASCII.GetBytes($"{status.MtimeSeconds}.{status.MtimeNanoseconds:D9}")),
            ("uid", Encoding.ASCII.GetBytes(status.Uid.ToString(System.Globalization.CultureInfo.InvariantCulture))),
            ("gid", Encoding.ASCII.GetBytes(status.Gid.ToString(System.Globalization.CultureInfo.InvariantCulture))),
            ("size", Encoding.ASCII.GetBytes(size.ToString(System.Globalization.CultureInfo.InvariantCulture))),
        };
        if (linkTarget is not null)
        {
            records.Add(("linkpath", Encoding.UTF8.GetBytes(linkTarget)));
        }

        foreach (var (attribute, value) in LibC.ListXattrs(path))
        {
            records.Add(("SCHILY.xattr." + attribute, value));
        }

        byte[] pax = PaxData(records);
        await output.WriteAsync(Header("PaxHeaders/entry", 'x', pax.Length, 0x1A4, 0, 0, 0, string.Empty, 0, 0), cancellationToken).ConfigureAwait(false);
        await output.WriteAsync(pax, cancellationToken).ConfigureAwait(false);
        await output.WriteAsync(new byte[Padding(pax.Length)], cancellationToken).ConfigureAwait(false);

        // The ustar fields carry what fits; the pax records above override name, link, size, ids and mtime.
        byte[] header = Header(Truncate(name, 100), type, size, status.Mode & 0xFFF, status.Uid, status.Gid, status.MtimeSeconds,
            Truncate(linkTarget ?? string.Empty, 100), status.RdevMajor, status.RdevMinor);
        await output.WriteAsync(header, cancellationToken).ConfigureAwait(false);
        if (type == '0' && size > 0)
        {
            await CopyFileAsync(path, size, output, cancellationToken).ConfigureAwait(false);
            await output.WriteAsync(new byte[Padding(size)], cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task CopyFileAsync(string path, long size, Stream output, CancellationToken cancellationToken)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            await using var input = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
            long left = size;
            while (left > 0)
            {
                int n = await input.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), cancellationToken).ConfigureAwait(false);
                if (n == 0)
                {
                    throw new IOException($"{path} shrank while it was archived; snapshot layers must not change.");
                }

                await output.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                left -= n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static int Padding(long length) => (int)((BlockSize - (length % BlockSize)) % BlockSize);

    private static string Truncate(string value, int bytes)
    {
        // ustar name fields are bytes; keep ASCII only so a multi-byte character is never cut (pax holds the real name).
        var ascii = new StringBuilder();
        foreach (char c in value)
        {
            if (ascii.Length == bytes)
            {
                break;
            }

            ascii.Append(c < 0x80 ? c : '_');
        }

        return ascii.ToString();
    }

    // Each record: "LENGTH KEY=VALUE\n", LENGTH counting the whole record including its own digits.
    private static byte[] PaxData(List<(string Key, byte[] Value)> records)
    {
        using var buffer = new MemoryStream();
        foreach (var (key, value) in records)
        {
            int body = 1 + Encoding.UTF8.GetByteCount(key) + 1 + value.Length + 1;
            int length = body + 1;
            while (length.ToString(System.Globalization.CultureInfo.InvariantCulture).Length + body != length)
            {
                length++;
            }

            buffer.Write(Encoding.ASCII.GetBytes(length.ToString(System.Globalization.CultureInfo.InvariantCulture) + " "));
            buffer.Write(Encoding.UTF8.GetBytes(key + "="));
            buffer.Write(value);
            buffer.WriteByte((byte)'\n');
        }

        return buffer.ToArray();
    }

    // ustar header (POSIX.1-1988 as extended by pax): name 0/100, mode 100/8, uid 108/8, gid 116/8, size 124/12,
    // mtime 136/12, chksum 148/8, typeflag 156, linkname 157/100, magic 257 "ustar\0", version 263 "00",
    // uname 265/32, gname 297/32, devmajor 329/8, devminor 337/8, prefix 345/155.
    private static byte[] Header(string name, char type, long size, uint mode, uint uid, uint gid, long mtime, string linkName, uint devMajor, uint devMinor)
    {
        byte[] header = new byte[BlockSize];
        Encoding.ASCII.GetBytes(name, header.AsSpan(0, 100));
        Octal(header.AsSpan(100, 8), mode);
        Octal(header.AsSpan(108, 8), uid < 0x1FFFFF ? uid : 0);
        Octal(header.AsSpan(116, 8), gid < 0x1FFFFF ? gid : 0);
        Octal(header.AsSpan(124, 12), size < 0x1FFFFFFFFFF ? size : 0);
        Octal(header.AsSpan(136, 12), mtime is >= 0 and < 0x1FFFFFFFFFF ? mtime : 0);
        header[156] = (byte)type;
        Encoding.ASCII.GetBytes(linkName, header.AsSpan(157, 100));
        "ustar\0"u8.CopyTo(header.AsSpan(257));
        "00"u8.CopyTo(header.AsSpan(263));
        Octal(header.AsSpan(329, 8), devMajor < 0x1FFFFF ? devMajor : 0);
        Octal(header.AsSpan(337, 8), devMinor < 0x1FFFFF ? devMinor : 0);
        header.AsSpan(148, 8).Fill((byte)' ');
        int sum = 0;
        foreach (byte b in header)
        {
            sum += b;
        }

        Octal(header.AsSpan(148, 7), sum);
        return header;
    }

    // Zero-padded octal, NUL-terminated, filling the field.
    private static void Octal(Span<byte> field, long value)
    {
        string digits = Convert.ToString(value, 8).PadLeft(field.Length - 1, '0');
        Encoding.ASCII.GetBytes(digits, field);
        field[^1] = 0;
    }
}
