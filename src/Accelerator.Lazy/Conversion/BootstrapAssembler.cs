using System.Security.Cryptography;
using System.Text;
using Accelerator.Lazy.Format;
using Accelerator.Oci.Layers;

namespace Accelerator.Lazy.Conversion;

/// <summary>
/// Turns the converter's finished tree and chunks into the lazy image: packs the chunks the tree uses into data blobs
/// in path order (depth first, names in ordinal order, so a directory's small files sit next to each other and one
/// ranged read fetches many), numbers the inodes breadth first, and builds the bootstrap. Everything is sorted, so
/// the output depends only on the tree and the chunk bytes.
/// </summary>
internal static class BootstrapAssembler
{
    public static PackedImage Assemble(
        FlatTree tree, ChunkStore store, LazyBootstrap? dictionary, IReadOnlyList<string>? prefetch, string directory,
        long blobTargetSize, Action<long>? progress, CancellationToken cancellationToken)
    {
        var (nodes, numbers, dentries) = Number(tree.Root);
        var packer = new BlobPacker(store, directory, blobTargetSize, progress);
        var dictionaryUsed = new SortedSet<int>();
        foreach (FlatNode file in FilesInPathOrder(tree.Root))
        {
            cancellationToken.ThrowIfCancellationRequested();
            foreach (FileChunkReference piece in file.Chunks)
            {
                ChunkRecord chunk = store[piece.Chunk];
                if (chunk.DictionaryIndex >= 0)
                {
                    dictionaryUsed.Add(chunk.DictionaryIndex);
                }
                else
                {
                    packer.Place(piece.Chunk, chunk);
                }
            }
        }

        IReadOnlyList<PackedBlob> newBlobs = packer.Finish();

        // Blob table: the dictionary's blobs that are used, in its order, then the new blobs in packing order.
        var dictionaryBlobs = dictionaryUsed.Select(i => dictionary!.GetChunk(i).BlobIndex).Distinct().Order().ToList();
        var blobIndex = dictionaryBlobs.Select((b, i) => (b, i)).ToDictionary(p => p.b, p => p.i);
        var blobs = dictionaryBlobs.Select(b => dictionary!.Blobs[b]).Concat(newBlobs.Select(b => new LazyBlob(b.Digest, b.Size))).ToList();

        // Chunk table: every used chunk, sorted by (blob, offset).
        var used = new List<(int Id, int Blob, long Offset, int Stored, ChunkRecord Record)>();
        var seen = new HashSet<int>();
        foreach (FlatNode node in nodes)
        {
            foreach (FileChunkReference piece in node.Chunks)
            {
                if (!seen.Add(piece.Chunk))
                {
                    continue;
                }

                ChunkRecord chunk = store[piece.Chunk];
                if (chunk.DictionaryIndex >= 0)
                {
                    LazyChunk known = dictionary!.GetChunk(chunk.DictionaryIndex);
                    used.Add((piece.Chunk, blobIndex[known.BlobIndex], known.CompressedOffset, known.CompressedSize, chunk));
                }
                else
                {
                    var (blob, offset) = packer.Location(piece.Chunk);
                    used.Add((piece.Chunk, dictionaryBlobs.Count + blob, offset, chunk.StoredSize, chunk));
                }
            }
        }

        used.Sort((a, b) => a.Blob != b.Blob ? a.Blob.CompareTo(b.Blob) : a.Offset.CompareTo(b.Offset));
        var chunkIndex = new Dictionary<int, int>(used.Count);
        for (int i = 0; i < used.Count; i++)
        {
            chunkIndex[used[i].Id] = i;
        }

        var model = new BootstrapModel
        {
            ChunkSize = store.ChunkSize,
            BlobDigests = new byte[blobs.Count * LazyFormat.DigestBytes],
            BlobSizes = [.. blobs.Select(b => b.Size)],
            ChunkBlob = [.. used.Select(u => u.Blob)],
            ChunkOffset = [.. used.Select(u => u.Offset)],
            ChunkCompressedSize = [.. used.Select(u => u.Stored)],
            ChunkUncompressedSize = [.. used.Select(u => u.Record.Size)],
            ChunkDigests = new byte[used.Count * LazyFormat.DigestBytes],
        };
        for (int i = 0; i < blobs.Count; i++)
        {
            Convert.FromHexString(blobs[i].Digest.Encoded).CopyTo(model.BlobDigests.AsSpan(i * LazyFormat.DigestBytes));
        }

        for (int i = 0; i < used.Count; i++)
        {
            used[i].Record.Key.CopyTo(model.ChunkDigests.AsSpan(i * LazyFormat.DigestBytes));
        }

        FillInodes(model, nodes, chunkIndex, dentries);
        int missing = FillPrefetch(model, tree, numbers, prefetch);
        var bootstrap = new LazyBootstrap(model);
        return new PackedImage(bootstrap, bootstrap.ToBlob(), newBlobs, [.. dictionaryBlobs.Select(b => dictionary!.Blobs[b])], missing);
    }

    // Inodes breadth first from the root (1), a directory's entries in ordinal order; a hard-linked node gets the
    // number of its first name. Entries come out sorted by (parent, name), as the bootstrap stores them.
    private static (List<FlatNode> Nodes, Dictionary<FlatNode, uint> Numbers, List<(uint Parent, string Name, uint Child)> Entries) Number(FlatNode root)
    {
        var nodes = new List<FlatNode> { root };
        var numbers = new Dictionary<FlatNode, uint>(ReferenceEqualityComparer.Instance) { [root] = 1 };
        var entries = new List<(uint, string, uint)>();
        var queue = new Queue<FlatNode>();
        queue.Enqueue(root);
        while (queue.Count > 0)
        {
            FlatNode directory = queue.Dequeue();
            uint parent = numbers[directory];
            foreach (var (name, child) in directory.Children!.OrderBy(c => c.Key, StringComparer.Ordinal))
            {
                if (!numbers.TryGetValue(child, out uint number))
                {
                    if (nodes.Count >= LazyFormat.MaxInodes)
                    {
                        throw new InvalidDataException($"The image has more than {LazyFormat.MaxInodes} inodes.");
                    }

                    nodes.Add(child);
                    number = (uint)nodes.Count;
                    numbers[child] = number;
                    if (child.IsDirectory)
                    {
                        queue.Enqueue(child);
                    }
                }

                entries.Add((parent, name, number));
            }
        }

        return (nodes, numbers, entries);
    }

    // Regular files depth first, names in ordinal order, each inode once.
    private static IEnumerable<FlatNode> FilesInPathOrder(FlatNode root)
    {
        var seen = new HashSet<FlatNode>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<FlatNode>();
        stack.Push(root);
        while (stack.Count > 0)
        {
            FlatNode node = stack.Pop();
            if (node.IsDirectory)
            {
                foreach (var child in node.Children!.OrderByDescending(c => c.Key, StringComparer.Ordinal))
                {
                    stack.Push(child.Value);
                }
            }
            else if (node.Type == FileEntryType.Regular && seen.Add(node))
            {
                yield return node;
            }
        }
    }

    private static void FillInodes(BootstrapModel model, List<FlatNode> nodes, Dictionary<int, int> chunkIndex, List<(uint Parent, string Name, uint Child)> entries)
    {
        // String table: every name, link target and xattr name, distinct, in ordinal order.
        var strings = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            strings.Add(entry.Name);
        }

        foreach (FlatNode node in nodes)
        {
            if (node.LinkTarget is not null)
            {
                strings.Add(node.LinkTarget);
            }

            foreach (string name in node.Xattrs?.Keys ?? Enumerable.Empty<string>())
            {
                strings.Add(name);
            }
        }

        model.Strings = [.. strings];
        var stringIndex = new Dictionary<string, uint>(model.Strings.Length, StringComparer.Ordinal);
        for (int i = 0; i < model.Strings.Length; i++)
        {
            stringIndex[model.Strings[i]] = (uint)i;
        }

        int n = nodes.Count;
        model.InodeType = new byte[n];
        model.Mode = new uint[n];
        model.Uid = new uint[n];
        model.Gid = new uint[n];
        model.MtimeSeconds = new long[n];
        model.MtimeNanoseconds = new uint[n];
        model.Size = new long[n];
        model.XattrSet = new uint[n];
        model.SymlinkTarget = new uint[n];
        model.DeviceMajor = new uint[n];
        model.DeviceMinor = new uint[n];
        model.ChunkRefCount = new int[n];
        var refChunks = new List<int>();
        var refOffsets = new List<long>();
        var xattrSets = new List<(uint, byte[])[]>();
        var xattrSetIndex = new Dictionary<string, uint>(StringComparer.Ordinal);
        for (int i = 0; i < n; i++)
        {
            FlatNode node = nodes[i];
            model.InodeType[i] = (byte)node.Type;
            model.Mode[i] = node.Mode;
            model.Uid[i] = node.Uid;
            model.Gid[i] = node.Gid;
            model.MtimeSeconds[i] = node.MtimeSeconds;
            model.MtimeNanoseconds[i] = (uint)node.MtimeNanoseconds;
            model.DeviceMajor[i] = node.DeviceMajor;
            model.DeviceMinor[i] = node.DeviceMinor;
            switch (node.Type)
            {
                case FileEntryType.Regular:
                    model.Size[i] = node.Size;
                    model.ChunkRefCount[i] = node.Chunks.Count;
                    foreach (FileChunkReference piece in node.Chunks)
                    {
                        refChunks.Add(chunkIndex[piece.Chunk]);
                        refOffsets.Add(piece.Offset);
                    }

                    break;
                case FileEntryType.Symlink:
                    model.Size[i] = Encoding.UTF8.GetByteCount(node.LinkTarget!);
                    model.SymlinkTarget[i] = stringIndex[node.LinkTarget!] + 1;
                    break;
            }

            if (node.Xattrs is { Count: > 0 } xattrs)
            {
                string key = string.Join('\0', xattrs.Select(x => x.Key + "=" + Convert.ToBase64String(x.Value)));
                if (!xattrSetIndex.TryGetValue(key, out uint set))
                {
                    xattrSets.Add([.. xattrs.Select(x => (stringIndex[x.Key], x.Value))]);
                    set = (uint)xattrSets.Count;
                    xattrSetIndex[key] = set;
                }

                model.XattrSet[i] = set;
            }
        }

        model.RefChunk = [.. refChunks];
        model.RefOffset = [.. refOffsets];
        model.XattrSets = [.. xattrSets];
        model.DentryParent = [.. entries.Select(e => e.Parent)];
        model.DentryName = [.. entries.Select(e => stringIndex[e.Name])];
        model.DentryChild = [.. entries.Select(e => e.Child)];
    }

    private static int FillPrefetch(BootstrapModel model, FlatTree tree, Dictionary<FlatNode, uint> numbers, IReadOnlyList<string>? prefetch)
    {
        int missing = 0;
        var inodes = new List<uint>();
        var seen = new HashSet<uint>();
        foreach (string path in prefetch ?? [])
        {
            List<string> components = LayerPaths.Split(path);
            FlatNode? node = components.Count == 0
                ? tree.Root
                : tree.ResolveDirectoryOrNull(components, components.Count - 1)?.Children!.GetValueOrDefault(components[^1]);
            if (node is null)
            {
                missing++;
            }
            else if (seen.Add(numbers[node]))
            {
                inodes.Add(numbers[node]);
            }
        }

        model.Prefetch = [.. inodes];
        return missing;
    }
}

/// <summary>What the assembler made.</summary>
internal sealed record PackedImage(LazyBootstrap Bootstrap, byte[] BootstrapBlob, IReadOnlyList<PackedBlob> NewBlobs, IReadOnlyList<LazyBlob> DictionaryBlobs, int PrefetchMissing);

/// <summary>A data blob written by the packer: its digest, size and temporary file.</summary>
internal sealed record PackedBlob(Digest Digest, long Size, string Path);

/// <summary>Copies spooled chunks into data blob files one after another, starting a new blob past the target size.</summary>
internal sealed class BlobPacker(ChunkStore store, string directory, long targetSize, Action<long>? progress)
{
    private readonly Dictionary<int, (int Blob, long Offset)> _locations = [];
    private readonly List<PackedBlob> _blobs = [];
    private readonly byte[] _buffer = new byte[store.ChunkSize];
    private FileStream? _current;
    private IncrementalHash? _hash;
    private long _size;
    private long _written;

    public void Place(int id, ChunkRecord chunk)
    {
        if (_locations.ContainsKey(id))
        {
            return;
        }

        if (_current is not null && _size > 0 && _size + chunk.StoredSize > targetSize)
        {
            Close();
        }

        if (_current is null)
        {
            _current = new FileStream(System.IO.Path.Combine(directory, $"blob-{_blobs.Count}"), FileMode.CreateNew, FileAccess.Write, FileShare.Read, 1 << 20);
            _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            _size = 0;
        }

        Span<byte> stored = _buffer.AsSpan(0, chunk.StoredSize);
        store.ReadStored(chunk, stored);
        _current.Write(stored);
        _hash!.AppendData(stored);
        _locations[id] = (_blobs.Count, _size);
        _size += stored.Length;
        _written += stored.Length;
        progress?.Invoke(_written);
    }

    public (int Blob, long Offset) Location(int id) => _locations[id];

    public IReadOnlyList<PackedBlob> Finish()
    {
        Close();
        return _blobs;
    }

    private void Close()
    {
        if (_current is null)
        {
            return;
        }

        string path = _current.Name;
        _current.Dispose();
        _current = null;
        var digest = Digest.FromHash(Digest.Sha256, _hash!.GetHashAndReset());
        _hash.Dispose();
        _blobs.Add(new PackedBlob(digest, _size, path));
    }
}
