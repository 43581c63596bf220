using System.Text;

namespace Accelerator.Oci.Layers;

/// <summary>
/// A streaming reader of tar archives as found in container image layers: ustar, GNU and pax headers, base-256
/// numbers, pax <c>x</c>/<c>g</c> records (path, linkpath, size, uid, gid, uname, gname, mtime with fractions,
/// <c>SCHILY.xattr.*</c> with binary values), GNU long names (<c>L</c>/<c>K</c>), and GNU sparse files (old GNU
/// <c>S</c> entries and pax sparse formats 0.0, 0.1 and 1.0). Entry data is read in place, never buffered whole.
/// Every length in the archive is checked before it is used.
/// </summary>
/// <remarks>Malformed archives raise <see cref="InvalidDataException"/>; too many entries raise
/// <see cref="ContentTooLargeException"/>.</remarks>
public sealed partial class LayerTarReader : IDisposable, IAsyncDisposable
{
    /// <summary>The largest pax extended header (all records of one <c>x</c> or <c>g</c> entry) accepted: 1 MiB.</summary>
    public const int MaxPaxHeaderBytes = 1 << 20;

    /// <summary>The longest GNU long name or long link (<c>L</c>/<c>K</c>) accepted: 64 KiB.</summary>
    public const int MaxLongNameBytes = 64 << 10;

    /// <summary>The most segments a sparse file's map may have.</summary>
    public const int MaxSparseSegments = 1 << 18;

    // Extension headers that may precede one entry (x, g, L, K repeated); more is an error, not a loop.
    private const int MaxExtensionHeadersPerEntry = 16;

    private readonly Stream _archive;
    private readonly bool _leaveOpen;
    private readonly int _maxEntries;
    private readonly byte[] _block = new byte[TarHeader.BlockSize];
    private readonly Dictionary<string, byte[]> _global = new(StringComparer.Ordinal);
    private int _globalBytes;
    private long _remaining;
    private long _position;
    private int _padding;
    private int _generation;
    private bool _ended;
    private bool _disposed;

    /// <summary>Creates a reader over an uncompressed tar stream (see <see cref="LayerStreams"/> to decompress).</summary>
    /// <param name="archive">The tar stream, read forward only.</param>
    /// <param name="options">Limits; defaults when <see langword="null"/>.</param>
    /// <param name="leaveOpen">Whether disposing the reader leaves <paramref name="archive"/> open.</param>
    public LayerTarReader(Stream archive, LayerTarReaderOptions? options = null, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(archive);
        _archive = archive;
        _leaveOpen = leaveOpen;
        _maxEntries = options?.MaxEntries ?? new LayerTarReaderOptions().MaxEntries;
        ArgumentOutOfRangeException.ThrowIfNegative(_maxEntries);
    }

    /// <summary>The number of entries returned so far.</summary>
    public int EntriesRead { get; private set; }

    /// <summary>
    /// Moves to the next entry, skipping whatever data of the current one was not read.
    /// </summary>
    /// <returns>The entry, or <see langword="null"/> at the end of the archive.</returns>
    /// <exception cref="InvalidDataException">The archive is malformed or truncated.</exception>
    /// <exception cref="ContentTooLargeException">The archive has more entries than allowed.</exception>
    public async ValueTask<LayerTarEntry?> ReadNextAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_ended)
        {
            return null;
        }

        _generation++;
        await SkipAsync(_remaining + _padding, cancellationToken).ConfigureAwait(false);
        _remaining = 0;
        _padding = 0;

        var pending = new PendingExtensions();
        for (int extensions = 0; ; extensions++)
        {
            if (extensions > MaxExtensionHeadersPerEntry)
            {
                throw new InvalidDataException($"More than {MaxExtensionHeadersPerEntry} extension headers precede one tar entry.");
            }

            int read = await ReadBlockAsync(_block, cancellationToken).ConfigureAwait(false);
            if (read == 0 || TarHeader.IsZeroBlock(_block))
            {
                // End of archive: two zero blocks, though a missing second block or a bare end of stream are tolerated
                // as GNU tar does, unless extension headers were left dangling.
                if (extensions > 0)
                {
                    throw new InvalidDataException("The tar archive ends after an extension header without its entry.");
                }

                _ended = true;
                return null;
            }

            TarHeader header = TarHeader.Parse(_block);
            switch (header.TypeFlag)
            {
                case (byte)'x':
                    ParsePax(await ReadMetadataAsync(header, MaxPaxHeaderBytes, "pax header", cancellationToken).ConfigureAwait(false), pending);
                    continue;
                case (byte)'g':
                    ParseGlobal(await ReadMetadataAsync(header, MaxPaxHeaderBytes, "pax global header", cancellationToken).ConfigureAwait(false));
                    continue;
                case (byte)'L':
                    pending.LongName = TarHeader.CString(await ReadMetadataAsync(header, MaxLongNameBytes, "GNU long name", cancellationToken).ConfigureAwait(false)).ToArray();
                    continue;
                case (byte)'K':
                    pending.LongLink = TarHeader.CString(await ReadMetadataAsync(header, MaxLongNameBytes, "GNU long link", cancellationToken).ConfigureAwait(false)).ToArray();
                    continue;
            }

            if (EntriesRead >= _maxEntries)
            {
                throw new ContentTooLargeException(
                    $"The tar archive has more than {_maxEntries} entries, the configured limit.");
            }

            LayerTarEntry entry = await BuildEntryAsync(header, pending, cancellationToken).ConfigureAwait(false);
            EntriesRead++;
            return entry;
        }
    }

    private async ValueTask<LayerTarEntry> BuildEntryAsync(TarHeader header, PendingExtensions pending, CancellationToken cancellationToken)
    {
        string path = pending.Get("path", _global) is { Length: > 0 } paxPath
            ? TarHeader.DecodeName(paxPath, "path")
            : TarHeader.DecodeName(pending.LongName ?? header.Name, "path");

        TarEntryKind kind = header.TypeFlag switch
        {
            (byte)'0' or 0 or (byte)'7' => path.EndsWith('/') ? TarEntryKind.Directory : TarEntryKind.RegularFile,
            (byte)'S' when header.Format == TarHeaderFormat.Gnu => TarEntryKind.RegularFile,
            (byte)'1' => TarEntryKind.HardLink,
            (byte)'2' => TarEntryKind.SymbolicLink,
            (byte)'3' => TarEntryKind.CharacterDevice,
            (byte)'4' => TarEntryKind.BlockDevice,
            (byte)'5' => TarEntryKind.Directory,
            (byte)'6' => TarEntryKind.Fifo,
            _ => throw new InvalidDataException(
                $"Tar entry '{path}' has unsupported type flag '{(header.TypeFlag is >= 0x20 and < 0x7F ? ((char)header.TypeFlag).ToString() : $"0x{header.TypeFlag:X2}")}'."),
        };

        long storedSize = pending.Get("size", _global) is { Length: > 0 } paxSize
            ? PaxRecords.ParseInteger(paxSize, "size")
            : header.Size;
        if (storedSize < 0)
        {
            throw new InvalidDataException($"Tar entry '{path}' has a negative size.");
        }

        // Only regular files carry data; like Go's archive/tar, the size field of other kinds is not data.
        if (kind != TarEntryKind.RegularFile)
        {
            storedSize = 0;
        }

        string? linkTarget = null;
        if (kind is TarEntryKind.HardLink or TarEntryKind.SymbolicLink)
        {
            linkTarget = pending.Get("linkpath", _global) is { Length: > 0 } paxLink
                ? TarHeader.DecodeName(paxLink, "link target")
                : TarHeader.DecodeName(pending.LongLink ?? header.LinkName, "link target");
            if (linkTarget.Length == 0)
            {
                throw new InvalidDataException($"Tar entry '{path}' is a link without a target.");
            }
        }

        _remaining = storedSize;
        _padding = (int)((TarHeader.BlockSize - (storedSize % TarHeader.BlockSize)) % TarHeader.BlockSize);

        long logicalSize = storedSize;
        List<TarSparseSegment>? sparse = null;
        if (kind == TarEntryKind.RegularFile)
        {
            (sparse, logicalSize, path) = await ReadSparseMapAsync(header, pending, path, storedSize, cancellationToken).ConfigureAwait(false);
        }

        if (path.Length == 0)
        {
            throw new InvalidDataException("Tar entry has an empty name.");
        }

        var xattrs = new Dictionary<string, ReadOnlyMemory<byte>>(StringComparer.Ordinal);
        foreach (var (key, value) in _global)
        {
            AddXattr(xattrs, key, value);
        }

        foreach (var (key, value) in pending.Records)
        {
            AddXattr(xattrs, key, value);
        }

        var entryHeader = new TarEntryHeader
        {
            Path = path,
            Kind = kind,
            Mode = (UnixFileMode)(header.Mode & 0xFFF),
            Uid = pending.Get("uid", _global) is { Length: > 0 } uid ? PaxRecords.ParseInteger(uid, "uid") : header.Uid,
            Gid = pending.Get("gid", _global) is { Length: > 0 } gid ? PaxRecords.ParseInteger(gid, "gid") : header.Gid,
            UserName = DecodeOwner(pending.Get("uname", _global) ?? header.UserName),
            GroupName = DecodeOwner(pending.Get("gname", _global) ?? header.GroupName),
            Size = logicalSize,
            ModificationTime = pending.Get("mtime", _global) is { Length: > 0 } mtime
                ? PaxRecords.ParseTime(mtime, "mtime")
                : new TarTimestamp(header.ModificationTime, 0),
            LinkTarget = linkTarget,
            DeviceMajor = kind is TarEntryKind.CharacterDevice or TarEntryKind.BlockDevice ? CheckedDevice(header.DeviceMajor, path) : 0,
            DeviceMinor = kind is TarEntryKind.CharacterDevice or TarEntryKind.BlockDevice ? CheckedDevice(header.DeviceMinor, path) : 0,
            ExtendedAttributes = xattrs,
            SparseMap = sparse,
        };

        return new LayerTarEntry(entryHeader, new EntryDataStream(this, _generation, _remaining), _position);
    }

    private static int CheckedDevice(long value, string path) =>
        value is >= 0 and <= int.MaxValue ? (int)value : throw new InvalidDataException($"Tar entry '{path}' has an out-of-range device number.");

    private static string? DecodeOwner(byte[] bytes) => bytes.Length == 0 ? null : Encoding.UTF8.GetString(bytes);

    private const string XattrPrefix = "SCHILY.xattr.";

    private static void AddXattr(Dictionary<string, ReadOnlyMemory<byte>> xattrs, string key, byte[] value)
    {
        if (key.StartsWith(XattrPrefix, StringComparison.Ordinal) && key.Length > XattrPrefix.Length)
        {
            xattrs[key[XattrPrefix.Length..]] = value;
        }
    }

    private void ParsePax(byte[] data, PendingExtensions pending)
    {
        PaxRecords.Parse(data, (key, value) =>
        {
            // Sparse format 0.0 repeats these two keywords, one pair per segment, so they are kept in order.
            if (key is "GNU.sparse.offset" or "GNU.sparse.numbytes")
            {
                if (pending.Sparse00.Count >= 2 * MaxSparseSegments)
                {
                    throw new InvalidDataException("Pax sparse map has too many segments.");
                }

                pending.Sparse00.Add(PaxRecords.ParseInteger(value, key));
                return;
            }

            pending.Records[key] = value;
        });
    }

    private void ParseGlobal(byte[] data)
    {
        PaxRecords.Parse(data, (key, value) =>
        {
            if (_global.Remove(key, out byte[]? old))
            {
                _globalBytes -= key.Length + old.Length;
            }

            // An empty value deletes the global record (POSIX pax, "pax Extended Header").
            if (value.Length == 0 && !key.StartsWith(XattrPrefix, StringComparison.Ordinal))
            {
                return;
            }

            _globalBytes += key.Length + value.Length;
            if (_globalBytes > MaxPaxHeaderBytes)
            {
                throw new InvalidDataException($"Pax global records exceed {MaxPaxHeaderBytes} bytes in total.");
            }

            _global[key] = value;
        });
    }

    private async ValueTask<byte[]> ReadMetadataAsync(TarHeader header, int limit, string what, CancellationToken cancellationToken)
    {
        if (header.Size > limit)
        {
            throw new InvalidDataException($"Tar {what} of {header.Size} bytes exceeds the limit of {limit} bytes.");
        }

        byte[] data = new byte[header.Size];
        int read = await ReadFullyAsync(data, cancellationToken).ConfigureAwait(false);
        if (read < data.Length)
        {
            throw new InvalidDataException($"The tar archive ends inside a {what}.");
        }

        await SkipAsync((TarHeader.BlockSize - (header.Size % TarHeader.BlockSize)) % TarHeader.BlockSize, cancellationToken).ConfigureAwait(false);
        return data;
    }

    /// <summary>Collected extension records for the entry that follows them.</summary>
    private sealed class PendingExtensions
    {
        public Dictionary<string, byte[]> Records { get; } = new(StringComparer.Ordinal);

        public List<long> Sparse00 { get; } = [];

        public byte[]? LongName { get; set; }

        public byte[]? LongLink { get; set; }

        public byte[]? Get(string key, Dictionary<string, byte[]> global) =>
            Records.TryGetValue(key, out byte[]? value) ? value : global.GetValueOrDefault(key);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            if (!_leaveOpen)
            {
                _archive.Dispose();
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (!_disposed)
        {
            _disposed = true;
            if (!_leaveOpen)
            {
                await _archive.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}
