using Accelerator.Oci.Layers;

namespace Accelerator.Lazy.Format;

/// <summary>
/// The metadata of a lazy image, held in memory: the flattened file tree (every inode with its attributes, directory
/// entries sorted by name, hard links as one inode), the data blobs, the chunk table and the prefetch list. It is the
/// <see cref="IChunkIndex"/> a lazy mount serves from. Read one with <see cref="Read"/>; every reference in it is
/// checked when it is read, so a bootstrap that loads is safe to serve (no index, offset or length leaves its table).
/// </summary>
/// <remarks>Thread-safe: all members may be called concurrently.</remarks>
public sealed partial class LazyBootstrap : IChunkIndex
{
    private static readonly IReadOnlyList<ChunkLocation> NoChunks = [];

    private readonly BootstrapModel _model;
    private readonly int[] _directoryStart;
    private readonly int[] _referenceStart;
    private readonly int[] _firstEntry;
    private readonly uint[] _linkCount;
    private readonly Digest[] _blobDigests;
    private readonly Digest[] _chunkDigests;
    private readonly IReadOnlyDictionary<string, byte[]>[] _xattrSets;
    private readonly FileEntry?[] _entries;
    private readonly LazyBlob[] _blobs;
    private readonly ulong[] _prefetch;

    /// <summary>The format version of the bootstrap.</summary>
    public int FormatVersion => LazyFormat.Version;

    /// <summary>The chunk size the image was cut with: files are split at multiples of it.</summary>
    public int ChunkSize => _model.ChunkSize;

    /// <inheritdoc />
    public long InodeCount => _model.InodeCount;

    /// <summary>The number of distinct chunks.</summary>
    public int ChunkCount => _model.ChunkCount;

    /// <summary>The data blobs the chunks live in, in the order of the bootstrap's blob table.</summary>
    public IReadOnlyList<LazyBlob> Blobs => _blobs;

    /// <summary>The inodes to fetch first after mounting (from the converter's prefetch list), in order.</summary>
    public IReadOnlyList<ulong> PrefetchInodes => _prefetch;

    /// <summary>The total size of the regular files' data (each hard-linked inode once), in bytes.</summary>
    public long FileBytes { get; }

    /// <summary>The total compressed size of the distinct chunks, in bytes.</summary>
    public long ChunkBytes { get; }

    /// <inheritdoc />
    public FileEntry? GetEntry(ulong inode)
    {
        if (!IsInode(inode))
        {
            return null;
        }

        int index = (int)inode - 1;
        return Volatile.Read(ref _entries[index]) ?? (_entries[index] = CreateEntry(index));
    }

    /// <inheritdoc />
    public FileEntry? Lookup(ulong parentInode, string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        int entry = FindEntry(parentInode, name);
        return entry < 0 ? null : EntryFor(entry);
    }

    /// <summary>
    /// Looks up an absolute or relative path (components separated by <c>/</c>; <c>.</c> and empty components skipped)
    /// without following symbolic links. Returns null when a component is missing or not a directory.
    /// </summary>
    public FileEntry? LookupPath(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        ulong inode = 1;
        int entry = -1;
        foreach (string part in path.Split('/'))
        {
            if (part is "" or ".")
            {
                continue;
            }

            entry = FindEntry(inode, part);
            if (entry < 0)
            {
                return null;
            }

            inode = _model.DentryChild[entry];
        }

        return entry < 0 ? GetEntry(1) : EntryFor(entry);
    }

    /// <inheritdoc />
    public IEnumerable<(string Name, FileEntry Entry)> ReadDirectory(ulong directoryInode)
    {
        if (!IsInode(directoryInode) || _model.InodeType[directoryInode - 1] != (byte)FileEntryType.Directory)
        {
            yield break;
        }

        int index = (int)directoryInode - 1;
        for (int i = _directoryStart[index]; i < _directoryStart[index + 1]; i++)
        {
            yield return (_model.Strings[_model.DentryName[i]], EntryFor(i));
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<ChunkLocation> GetChunks(ulong inode)
    {
        if (!IsInode(inode))
        {
            return NoChunks;
        }

        int index = (int)inode - 1;
        int start = _referenceStart[index], end = _referenceStart[index + 1];
        if (start == end)
        {
            return NoChunks;
        }

        var chunks = new ChunkLocation[end - start];
        for (int i = start; i < end; i++)
        {
            int chunk = _model.RefChunk[i];
            chunks[i - start] = new ChunkLocation(
                _blobDigests[_model.ChunkBlob[chunk]],
                _model.ChunkOffset[chunk],
                _model.ChunkCompressedSize[chunk],
                _model.RefOffset[i],
                _model.ChunkUncompressedSize[chunk],
                ChunkDigest(chunk));
        }

        return chunks;
    }

    /// <summary>The exact modification time of an inode, to the nanosecond (<see cref="FileEntry.ModificationTime"/> keeps 100 ns).</summary>
    /// <exception cref="ArgumentOutOfRangeException">There is no such inode.</exception>
    public TarTimestamp GetModificationTime(ulong inode)
    {
        if (!IsInode(inode))
        {
            throw new ArgumentOutOfRangeException(nameof(inode), inode, "No such inode.");
        }

        return new TarTimestamp(_model.MtimeSeconds[inode - 1], (int)_model.MtimeNanoseconds[inode - 1]);
    }

    /// <summary>One distinct chunk of the chunk table, by index (0 to <see cref="ChunkCount"/> − 1).</summary>
    public LazyChunk GetChunk(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, ChunkCount);
        return new LazyChunk(_model.ChunkBlob[index], _model.ChunkOffset[index], _model.ChunkCompressedSize[index], _model.ChunkUncompressedSize[index], ChunkDigest(index));
    }

    /// <summary>The raw sha256 of chunk <paramref name="index"/>, without formatting a <see cref="Digest"/>.</summary>
    internal ReadOnlySpan<byte> RawChunkDigest(int index) => _model.ChunkDigests.AsSpan(index * LazyFormat.DigestBytes, LazyFormat.DigestBytes);

    private bool IsInode(ulong inode) => inode >= 1 && inode <= (ulong)_model.InodeCount;

    private Digest ChunkDigest(int chunk)
    {
        Digest digest = _chunkDigests[chunk];
        if (digest.IsEmpty)
        {
            digest = Digest.FromHash(Digest.Sha256, RawChunkDigest(chunk));
            _chunkDigests[chunk] = digest;
        }

        return digest;
    }

    private int FindEntry(ulong parentInode, string name)
    {
        if (!IsInode(parentInode))
        {
            return -1;
        }

        int index = (int)parentInode - 1;
        int low = _directoryStart[index], high = _directoryStart[index + 1] - 1;
        while (low <= high)
        {
            int middle = low + ((high - low) >> 1);
            int order = string.CompareOrdinal(_model.Strings[_model.DentryName[middle]], name);
            if (order == 0)
            {
                return middle;
            }

            if (order < 0)
            {
                low = middle + 1;
            }
            else
            {
                high = middle - 1;
            }
        }

        return -1;
    }

    // The entry a directory entry names: the inode's entry, with this entry's path when it is another name of a hard link.
    private FileEntry EntryFor(int dentry)
    {
        uint child = _model.DentryChild[dentry];
        FileEntry entry = GetEntry(child)!;
        return _firstEntry[child - 1] == dentry ? entry : entry with { Path = PathOf(dentry) };
    }

    private FileEntry CreateEntry(int index)
    {
        var type = (FileEntryType)_model.InodeType[index];
        uint target = _model.SymlinkTarget[index];
        uint xattrs = _model.XattrSet[index];
        return new FileEntry
        {
            Inode = (ulong)index + 1,
            Path = index == 0 ? "/" : PathOf(_firstEntry[index]),
            Type = type,
            Mode = _model.Mode[index],
            Uid = _model.Uid[index],
            Gid = _model.Gid[index],
            Size = _model.Size[index],
            ModificationTime = new UnixTime(_model.MtimeSeconds[index], (int)_model.MtimeNanoseconds[index]),
            LinkTarget = target == 0 ? null : _model.Strings[target - 1],
            DeviceMajor = _model.DeviceMajor[index],
            DeviceMinor = _model.DeviceMinor[index],
            LinkCount = _linkCount[index],
            ExtendedAttributes = xattrs == 0 ? null : _xattrSets[xattrs - 1],
        };
    }

    private string PathOf(int dentry)
    {
        var names = new List<string>();
        while (dentry >= 0)
        {
            names.Add(_model.Strings[_model.DentryName[dentry]]);
            dentry = _firstEntry[_model.DentryParent[dentry] - 1];
        }

        names.Reverse();
        return "/" + string.Join('/', names);
    }
}

/// <summary>A data blob of a lazy image.</summary>
/// <param name="Digest">The blob's digest (sha256).</param>
/// <param name="Size">The blob's size in bytes.</param>
public readonly record struct LazyBlob(Digest Digest, long Size);

/// <summary>One distinct chunk of a lazy image.</summary>
/// <param name="BlobIndex">The index of its blob in <see cref="LazyBootstrap.Blobs"/>.</param>
/// <param name="CompressedOffset">Where the stored chunk starts in the blob.</param>
/// <param name="CompressedSize">The stored size (equal to <paramref name="UncompressedSize"/> when the chunk is stored raw).</param>
/// <param name="UncompressedSize">The chunk's size.</param>
/// <param name="Digest">The sha256 of the uncompressed chunk.</param>
public readonly record struct LazyChunk(int BlobIndex, long CompressedOffset, int CompressedSize, int UncompressedSize, Digest Digest);
