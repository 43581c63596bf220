using System.Text;

namespace Accelerator.Lazy.Format;

public sealed partial class LazyBootstrap
{
    // DateTimeOffset's range, which FileEntry.ModificationTime must hold: 0001-01-01 to 9999-12-31.
    private const long MinSeconds = -62_135_596_800L;
    private const long MaxSeconds = 253_402_300_799L;

    /// <summary>
    /// Reads a bootstrap blob (zstd-compressed, as stored in the registry) and checks every reference in it.
    /// </summary>
    /// <param name="blob">The bootstrap layer's bytes.</param>
    /// <param name="maxUncompressedBytes">The most bytes the blob may decompress to.</param>
    /// <exception cref="InvalidDataException">The blob is not a valid bootstrap: not zstd, too large, a wrong magic or
    /// version, malformed MessagePack, or any index, offset, length, name or count out of place.</exception>
    public static LazyBootstrap Read(ReadOnlyMemory<byte> blob, int maxUncompressedBytes = LazyFormat.DefaultMaxBootstrapBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxUncompressedBytes, BootstrapCodec.HeaderSize);
        return ReadUncompressed(BootstrapCodec.Decompress(blob, maxUncompressedBytes));
    }

    /// <summary>Reads an uncompressed bootstrap (header and MessagePack body).</summary>
    internal static LazyBootstrap ReadUncompressed(ReadOnlyMemory<byte> raw) => new(BootstrapCodec.Decode(raw));

    /// <summary>The columns the bootstrap was read from (tests build hostile variants from them).</summary>
    internal BootstrapModel Model => _model;

    /// <summary>The bootstrap as stored: encoded and zstd-compressed.</summary>
    internal byte[] ToBlob() => BootstrapCodec.Compress(BootstrapCodec.Encode(_model));

    /// <summary>Validates <paramref name="model"/> and builds the lookup tables.</summary>
    /// <exception cref="InvalidDataException">Something in the model is out of place.</exception>
    internal LazyBootstrap(BootstrapModel model)
    {
        _model = model;
        if (!LazyFormat.IsValidChunkSize(model.ChunkSize))
        {
            Fail($"chunk size {model.ChunkSize} is not a power of two from 64 KiB to 16 MiB");
        }

        int inodes = model.InodeCount;
        if (inodes < 1 || inodes > LazyFormat.MaxInodes)
        {
            Fail($"it has {inodes} inodes (1 to {LazyFormat.MaxInodes} allowed)");
        }

        _blobs = ValidateBlobs(model, out _blobDigests);
        ChunkBytes = ValidateChunks(model);
        _xattrSets = ValidateXattrSets(model);
        _referenceStart = new int[inodes + 1];
        FileBytes = ValidateInodes(model, _referenceStart);
        (_directoryStart, _firstEntry, _linkCount) = ValidateTree(model);

        _prefetch = new ulong[model.Prefetch.Length];
        for (int i = 0; i < _prefetch.Length; i++)
        {
            uint inode = model.Prefetch[i];
            if (inode < 1 || inode > inodes)
            {
                Fail($"the prefetch list names inode {inode}, which does not exist");
            }

            _prefetch[i] = inode;
        }

        _chunkDigests = new Digest[model.ChunkCount];
        _entries = new FileEntry?[inodes];
    }

    private static LazyBlob[] ValidateBlobs(BootstrapModel model, out Digest[] digests)
    {
        digests = new Digest[model.BlobCount];
        var blobs = new LazyBlob[model.BlobCount];
        var seen = new HashSet<Digest>();
        for (int i = 0; i < blobs.Length; i++)
        {
            if (model.BlobSizes[i] < 0)
            {
                Fail($"blob {i} has a negative size");
            }

            digests[i] = Digest.FromHash(Digest.Sha256, model.BlobDigests.AsSpan(i * LazyFormat.DigestBytes, LazyFormat.DigestBytes));
            if (!seen.Add(digests[i]))
            {
                Fail($"blob {digests[i]} is listed twice");
            }

            blobs[i] = new LazyBlob(digests[i], model.BlobSizes[i]);
        }

        return blobs;
    }

    // Chunks are sorted by (blob, offset) and never overlap; each lies inside its blob.
    private static long ValidateChunks(BootstrapModel model)
    {
        long total = 0;
        long end = 0;
        for (int i = 0; i < model.ChunkCount; i++)
        {
            int blob = model.ChunkBlob[i];
            if ((uint)blob >= (uint)model.BlobCount)
            {
                Fail($"chunk {i} is in blob {blob}; there are {model.BlobCount}");
            }

            if (i > 0 && blob < model.ChunkBlob[i - 1])
            {
                Fail($"chunk {i} is out of blob order");
            }

            if (i == 0 || blob != model.ChunkBlob[i - 1])
            {
                end = 0;
            }

            int size = model.ChunkUncompressedSize[i];
            int stored = model.ChunkCompressedSize[i];
            long offset = model.ChunkOffset[i];
            if (size < 1 || size > model.ChunkSize)
            {
                Fail($"chunk {i} has size {size}, outside 1 to the chunk size {model.ChunkSize}");
            }

            if (stored < 1 || stored > size)
            {
                Fail($"chunk {i} has stored size {stored}, outside 1 to its size {size}");
            }

            if (offset < end)
            {
                Fail($"chunk {i} overlaps the chunk before it in blob {blob}");
            }

            end = offset + stored;
            if (end > model.BlobSizes[blob])
            {
                Fail($"chunk {i} ends at {end}, past the end of blob {blob} ({model.BlobSizes[blob]} bytes)");
            }

            total += stored;
        }

        return total;
    }

    private static IReadOnlyDictionary<string, byte[]>[] ValidateXattrSets(BootstrapModel model)
    {
        var sets = new IReadOnlyDictionary<string, byte[]>[model.XattrSets.Length];
        for (int s = 0; s < sets.Length; s++)
        {
            var set = model.XattrSets[s];
            if (set.Length == 0)
            {
                Fail($"xattr set {s} is empty");
            }

            var dictionary = new Dictionary<string, byte[]>(set.Length, StringComparer.Ordinal);
            string? previous = null;
            foreach (var (nameIndex, value) in set)
            {
                string name = StringAt(model, nameIndex, "an xattr name");
                int bytes = Encoding.UTF8.GetByteCount(name);
                if (bytes == 0 || bytes > LazyFormat.MaxXattrNameBytes || name.Contains('\0'))
                {
                    Fail($"xattr set {s} has an invalid name");
                }

                if (previous is not null && string.CompareOrdinal(previous, name) >= 0)
                {
                    Fail($"xattr set {s} is not sorted by name or repeats a name");
                }

                if (value.Length > LazyFormat.MaxXattrValueBytes)
                {
                    Fail($"xattr '{name}' has a value of {value.Length} bytes, over {LazyFormat.MaxXattrValueBytes}");
                }

                dictionary[name] = value;
                previous = name;
            }

            sets[s] = dictionary;
        }

        return sets;
    }

    private static long ValidateInodes(BootstrapModel model, int[] referenceStart)
    {
        long fileBytes = 0;
        int reference = 0;
        for (int i = 0; i < model.InodeCount; i++)
        {
            referenceStart[i] = reference;
            byte typeByte = model.InodeType[i];
            if (typeByte > (byte)FileEntryType.Socket)
            {
                Fail($"inode {i + 1} has unknown type {typeByte}");
            }

            var type = (FileEntryType)typeByte;
            if (model.Mode[i] > 0xFFF)
            {
                Fail($"inode {i + 1} has mode bits beyond 07777");
            }

            if (model.MtimeSeconds[i] is < MinSeconds or > MaxSeconds || model.MtimeNanoseconds[i] >= 1_000_000_000)
            {
                Fail($"inode {i + 1} has an out-of-range modification time");
            }

            if (model.XattrSet[i] > model.XattrSets.Length)
            {
                Fail($"inode {i + 1} refers to xattr set {model.XattrSet[i]}; there are {model.XattrSets.Length}");
            }

            long size = model.Size[i];
            int count = model.ChunkRefCount[i];
            if (type == FileEntryType.Symlink)
            {
                uint target = model.SymlinkTarget[i];
                string text = target == 0 ? "" : StringAt(model, target - 1, "a symbolic link target");
                int bytes = Encoding.UTF8.GetByteCount(text);
                if (bytes == 0 || bytes > LazyFormat.MaxSymlinkBytes || text.Contains('\0'))
                {
                    Fail($"symbolic link inode {i + 1} has an empty, too long or invalid target");
                }

                if (size != bytes)
                {
                    Fail($"symbolic link inode {i + 1} has size {size}, not its target's length {bytes}");
                }
            }
            else if (model.SymlinkTarget[i] != 0)
            {
                Fail($"inode {i + 1} is not a symbolic link but has a target");
            }

            if (type is not (FileEntryType.CharDevice or FileEntryType.BlockDevice) && (model.DeviceMajor[i] | model.DeviceMinor[i]) != 0)
            {
                Fail($"inode {i + 1} is not a device but has device numbers");
            }

            if (type == FileEntryType.Regular)
            {
                if (size < 0)
                {
                    Fail($"inode {i + 1} has a negative size");
                }

                long end = 0;
                for (int r = reference; r < reference + count; r++)
                {
                    long offset = model.RefOffset[r];
                    if (offset < end)
                    {
                        Fail($"the chunks of inode {i + 1} overlap or are out of order");
                    }

                    end = offset + model.ChunkUncompressedSize[model.RefChunk[r]];
                }

                if (end > size)
                {
                    Fail($"the chunks of inode {i + 1} reach {end}, past its size {size}");
                }

                fileBytes += size;
            }
            else if (count != 0 || (type != FileEntryType.Symlink && size != 0))
            {
                Fail($"inode {i + 1} is a {type} but has data");
            }

            reference += count;
        }

        referenceStart[model.InodeCount] = reference;
        return fileBytes;
    }

    // Directory entries are sorted by (parent, name) with no name twice in a directory; every directory but the root has
    // exactly one entry, every other inode at least one, and everything is reachable from the root — which together
    // rule out cycles, orphans and hard-linked directories.
    private static (int[] DirectoryStart, int[] FirstEntry, uint[] LinkCount) ValidateTree(BootstrapModel model)
    {
        int inodes = model.InodeCount;
        if (model.InodeType[0] != (byte)FileEntryType.Directory)
        {
            Fail("inode 1, the root, is not a directory");
        }

        var directoryStart = new int[inodes + 1];
        var firstEntry = new int[inodes];
        var linkCount = new uint[inodes];
        Array.Fill(firstEntry, -1);
        int dentries = model.DentryParent.Length;
        uint previousParent = 0;
        string? previousName = null;
        int nextDirectory = 0;
        for (int d = 0; d < dentries; d++)
        {
            uint parent = model.DentryParent[d];
            uint child = model.DentryChild[d];
            if (parent < 1 || parent > inodes || model.InodeType[parent - 1] != (byte)FileEntryType.Directory)
            {
                Fail($"directory entry {d} has parent {parent}, which is not a directory");
            }

            if (child < 2 || child > inodes)
            {
                Fail($"directory entry {d} names inode {child}, which is out of range or the root");
            }

            string name = StringAt(model, model.DentryName[d], "a file name");
            if (name is "" or "." or ".." || name.Contains('/') || name.Contains('\0') || Encoding.UTF8.GetByteCount(name) > LazyFormat.MaxNameBytes)
            {
                Fail($"directory entry {d} has an invalid name");
            }

            if (parent < previousParent || (parent == previousParent && string.CompareOrdinal(previousName, name) >= 0))
            {
                Fail($"directory entry {d} ('{name}') is out of order or repeats a name");
            }

            // Directory ranges: every inode up to this parent starts here.
            while (nextDirectory < parent)
            {
                directoryStart[nextDirectory++] = d;
            }

            bool isDirectory = model.InodeType[child - 1] == (byte)FileEntryType.Directory;
            if (firstEntry[child - 1] >= 0)
            {
                if (isDirectory)
                {
                    Fail($"directory inode {child} has more than one name");
                }
            }
            else
            {
                firstEntry[child - 1] = d;
            }

            linkCount[child - 1]++;
            if (isDirectory)
            {
                linkCount[parent - 1]++;
            }

            previousParent = parent;
            previousName = name;
        }

        while (nextDirectory <= inodes)
        {
            directoryStart[nextDirectory++] = dentries;
        }

        // Reachability from the root, breadth first over the directory ranges.
        var seen = new bool[inodes];
        seen[0] = true;
        int reached = 1;
        var queue = new Queue<int>();
        queue.Enqueue(0);
        while (queue.Count > 0)
        {
            int directory = queue.Dequeue();
            for (int d = directoryStart[directory]; d < directoryStart[directory + 1]; d++)
            {
                int child = (int)model.DentryChild[d] - 1;
                if (seen[child])
                {
                    continue;
                }

                seen[child] = true;
                reached++;
                if (model.InodeType[child] == (byte)FileEntryType.Directory)
                {
                    queue.Enqueue(child);
                }
            }
        }

        if (reached != inodes)
        {
            Fail($"{inodes - reached} inodes cannot be reached from the root (orphans or a directory cycle)");
        }

        // Directories count "." and their entry in the parent (set above from the children), as the kernel reports.
        for (int i = 0; i < inodes; i++)
        {
            if (model.InodeType[i] == (byte)FileEntryType.Directory)
            {
                linkCount[i] += i == 0 ? 2u : 1u;
            }
        }

        return (directoryStart, firstEntry, linkCount);
    }

    private static string StringAt(BootstrapModel model, uint index, string what)
    {
        if (index >= (uint)model.Strings.Length)
        {
            Fail($"{what} refers to string {index}; the table has {model.Strings.Length}");
        }

        return model.Strings[index];
    }

    private static void Fail(string reason) => throw new InvalidDataException($"Invalid lazy image bootstrap: {reason}.");
}
