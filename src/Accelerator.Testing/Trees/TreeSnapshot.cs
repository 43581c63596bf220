using System.Security.Cryptography;
using Accelerator.Linux;

namespace Accelerator.Testing.Trees;

/// <summary>
/// Everything observable about a directory tree: per path its type, permission bits, owner, size, content hash,
/// symlink target, device numbers, extended attributes, modification time and hard-link grouping. Taken without
/// following symlinks, so a tree with links pointing outside (or dangling) is recorded as it is. Two snapshots are
/// compared with <see cref="Compare"/>.
/// </summary>
public sealed partial class TreeSnapshot
{
    private readonly SortedDictionary<string, TreeEntry> _entries;

    private TreeSnapshot(string root, SortedDictionary<string, TreeEntry> entries)
    {
        Root = root;
        _entries = entries;
    }

    /// <summary>The directory the snapshot was taken of.</summary>
    public string Root { get; }

    /// <summary>The entries by relative path (<c>.</c> is the root), in ordinal order.</summary>
    public IReadOnlyDictionary<string, TreeEntry> Entries => _entries;

    /// <summary>The entry at <paramref name="path"/> (relative, <c>/</c>-separated).</summary>
    /// <exception cref="KeyNotFoundException">The tree has no such path.</exception>
    public TreeEntry this[string path] => _entries.TryGetValue(Normalize(path), out var entry)
        ? entry
        : throw new KeyNotFoundException($"'{path}' is not in the snapshot of {Root}.");

    /// <summary>The entry at <paramref name="path"/>, or null.</summary>
    public TreeEntry? Find(string path) => _entries.GetValueOrDefault(Normalize(path));

    /// <summary>The hard-link groups of the tree (each sorted, two paths or more), sorted by first path.</summary>
    public IReadOnlyList<IReadOnlyList<string>> HardlinkGroups => _entries.Values
        .Where(e => e.HardlinkGroup.Count > 1 && e.HardlinkGroup[0] == e.Path)
        .Select(e => e.HardlinkGroup)
        .ToList();

    /// <summary>
    /// Walks <paramref name="root"/> (which must be a directory) without following symlinks and records every path.
    /// </summary>
    /// <param name="root">The directory.</param>
    /// <param name="hashContent">Whether to hash regular files' content (the slow part on big trees).</param>
    public static TreeSnapshot Capture(string root, bool hashContent = true)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        string full = System.IO.Path.GetFullPath(root);
        var stat = LibC.Lstat(full);
        if ((stat.Mode & LibC.S_IFMT) != LibC.S_IFDIR)
        {
            throw new IOException($"'{root}' is not a directory.");
        }

        var entries = new SortedDictionary<string, TreeEntry>(StringComparer.Ordinal);
        var inodes = new Dictionary<(uint, uint, ulong), List<string>>();
        var pending = new Stack<(string FullPath, string Relative)>();
        pending.Push((full, "."));
        while (pending.Count > 0)
        {
            var (path, relative) = pending.Pop();
            var entry = Read(path, relative, hashContent, out var st);
            entries.Add(relative, entry);
            if (entry.Type == TreeEntryType.Directory)
            {
                foreach (string child in Directory.EnumerateFileSystemEntries(path))
                {
                    string name = System.IO.Path.GetFileName(child);
                    pending.Push((child, relative == "." ? name : relative + "/" + name));
                }
            }
            else
            {
                var key = (st.DevMajor, st.DevMinor, st.Inode);
                if (!inodes.TryGetValue(key, out var group))
                {
                    inodes[key] = group = [];
                }

                group.Add(relative);
            }
        }

        foreach (var group in inodes.Values.Where(g => g.Count > 1))
        {
            group.Sort(StringComparer.Ordinal);
            foreach (string p in group)
            {
                entries[p].HardlinkGroup = group;
            }
        }

        return new TreeSnapshot(full, entries);
    }

    private static TreeEntry Read(string path, string relative, bool hashContent, out FileStatus st)
    {
        st = LibC.Lstat(path);
        var type = (st.Mode & LibC.S_IFMT) switch
        {
            LibC.S_IFREG => TreeEntryType.RegularFile,
            LibC.S_IFDIR => TreeEntryType.Directory,
            LibC.S_IFLNK => TreeEntryType.Symlink,
            LibC.S_IFCHR => TreeEntryType.CharacterDevice,
            LibC.S_IFBLK => TreeEntryType.BlockDevice,
            LibC.S_IFIFO => TreeEntryType.Fifo,
            LibC.S_IFSOCK => TreeEntryType.Socket,
            _ => throw new IOException($"'{path}' has an unknown file type (mode 0x{st.Mode:x})."),
        };

        var xattrs = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (string name in LibC.ListXattrs(path))
        {
            if (LibC.GetXattr(path, name) is { } value)
            {
                xattrs[name] = value;
            }
        }

        bool device = type is TreeEntryType.CharacterDevice or TreeEntryType.BlockDevice;
        return new TreeEntry
        {
            Path = relative,
            Type = type,
            Permissions = (int)(st.Mode & 0xFFF),
            Uid = st.Uid,
            Gid = st.Gid,
            Size = st.Size,
            AllocatedSize = st.Blocks * 512,
            Sha256 = type == TreeEntryType.RegularFile && hashContent ? HashFile(path) : null,
            SymlinkTarget = type == TreeEntryType.Symlink ? new FileInfo(path).LinkTarget : null,
            DeviceMajor = device ? st.RdevMajor : 0,
            DeviceMinor = device ? st.RdevMinor : 0,
            Xattrs = xattrs,
            MtimeNanoseconds = checked((st.MtimeSeconds * 1_000_000_000L) + st.MtimeNanoseconds),
            LinkCount = st.Nlink,
            Inode = st.Inode,
        };
    }

    private static string HashFile(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.SequentialScan);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    private static string Normalize(string path)
    {
        string p = path.Replace('\\', '/').Trim('/');
        if (p.StartsWith("./", StringComparison.Ordinal))
        {
            p = p[2..];
        }

        return p.Length == 0 ? "." : p;
    }
}
