namespace Accelerator.Fuse.Tests.Support;

/// <summary>An in-memory <see cref="IChunkIndex"/> of given entries (parents found from paths), with any root inode.</summary>
internal sealed class EntryListChunkIndex : IChunkIndex
{
    private readonly Dictionary<ulong, FileEntry> _byInode;
    private readonly Dictionary<ulong, List<(string Name, FileEntry Entry)>> _children = [];

    public EntryListChunkIndex(ulong root, params FileEntry[] entries)
    {
        RootInode = root;
        _byInode = entries.GroupBy(e => e.Inode).ToDictionary(g => g.Key, g => g.First());
        var byPath = entries.ToDictionary(e => e.Path);
        foreach (var entry in entries.Where(e => e.Path != "/"))
        {
            int slash = entry.Path.LastIndexOf('/');
            var parent = byPath[slash == 0 ? "/" : entry.Path[..slash]];
            if (!_children.TryGetValue(parent.Inode, out var list))
            {
                _children[parent.Inode] = list = [];
            }

            list.Add((entry.Path[(slash + 1)..], entry));
        }
    }

    public ulong RootInode { get; }

    public long InodeCount => _byInode.Count;

    public FileEntry? GetEntry(ulong inode) => _byInode.GetValueOrDefault(inode);

    public FileEntry? Lookup(ulong parentInode, string name) => _children.GetValueOrDefault(parentInode)?.FirstOrDefault(c => c.Name == name).Entry;

    public IEnumerable<(string Name, FileEntry Entry)> ReadDirectory(ulong directoryInode) => _children.GetValueOrDefault(directoryInode) ?? [];

    public IReadOnlyList<ChunkLocation> GetChunks(ulong inode) => [];

    public static FileEntry Directory(ulong inode, string path) => new() { Inode = inode, Path = path, Type = FileEntryType.Directory, Mode = 0x1ED, LinkCount = 2 };

    public static FileEntry File(ulong inode, string path, long size) => new() { Inode = inode, Path = path, Type = FileEntryType.Regular, Mode = 0x1A4, Size = size };
}

/// <summary>Content that ends early: a backend whose data is shorter than the index says (a lying peer).</summary>
internal sealed class TruncatedContentReader(int available) : Accelerator.Fuse.FileSystem.IFileContentReader
{
    public ValueTask<int> ReadAsync(ulong inode, long offset, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        int n = (int)Math.Clamp(available - offset, 0, buffer.Length);
        buffer.Span[..n].Fill(0x55);
        return ValueTask.FromResult(n);
    }
}
