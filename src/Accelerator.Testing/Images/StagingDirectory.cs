using Accelerator.Testing.Interop;

namespace Accelerator.Testing.Images;

/// <summary>
/// Builds a directory tree item by item with exact modes, owners, times and xattrs, for GNU tar to archive into a
/// layer. Parents are created on demand with mode 0755; <see cref="ApplyTimes"/> sets every mtime at the end (children
/// first, so directory times stick).
/// </summary>
internal sealed class StagingDirectory
{
    private readonly Dictionary<string, long> _mtimes = new(StringComparer.Ordinal);

    internal StagingDirectory(string root)
    {
        Root = root;
        Directory.CreateDirectory(root);
        System.IO.File.SetUnixFileMode(root, Mode("755"));
    }

    internal string Root { get; }

    internal string this[string relative] => Path.Combine(Root, relative);

    internal string AddDirectory(string relative, string mode = "755")
    {
        string path = this[relative];
        EnsureParent(path);
        System.IO.Directory.CreateDirectory(path);
        System.IO.File.SetUnixFileMode(path, Mode(mode));
        return path;
    }

    internal string AddFile(string relative, ReadOnlySpan<byte> content, string mode = "644")
    {
        string path = this[relative];
        EnsureParent(path);
        using (var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write))
        {
            stream.Write(content);
        }

        // System.IO.File.SetUnixFileMode goes through chmod, which keeps setuid/setgid bits as given (root may set them).
        System.IO.File.SetUnixFileMode(path, Mode(mode));
        return path;
    }

    internal string AddFile(string relative, string content, string mode = "644") => AddFile(relative, System.Text.Encoding.UTF8.GetBytes(content), mode);

    internal string AddSparseFile(string relative, long size, IEnumerable<(long Offset, int Length, byte Value)> extents)
    {
        string path = this[relative];
        EnsureParent(path);
        using (var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write))
        {
            stream.SetLength(size);
            foreach (var (offset, length, value) in extents)
            {
                stream.Position = offset;
                var data = new byte[length];
                Array.Fill(data, value);
                stream.Write(data);
            }
        }

        System.IO.File.SetUnixFileMode(path, Mode("644"));
        return path;
    }

    internal string AddSymlink(string relative, string target)
    {
        string path = this[relative];
        EnsureParent(path);
        System.IO.File.CreateSymbolicLink(path, target);
        return path;
    }

    internal string AddHardLink(string existing, string relative)
    {
        string path = this[relative];
        EnsureParent(path);
        UnixFile.CreateHardLink(this[existing], path);
        return path;
    }

    internal string AddDevice(string relative, bool block, uint major, uint minor)
    {
        string path = this[relative];
        EnsureParent(path);
        if (block)
        {
            UnixFile.CreateBlockDevice(path, major, minor, Mode("660"));
        }
        else
        {
            UnixFile.CreateCharacterDevice(path, major, minor, Mode("666"));
        }

        return path;
    }

    internal string AddFifo(string relative)
    {
        string path = this[relative];
        EnsureParent(path);
        UnixFile.CreateFifo(path, Mode("644"));
        return path;
    }

    internal void SetOwner(string relative, uint uid, uint gid) => UnixFile.SetOwner(this[relative], uid, gid);

    internal void SetXattr(string relative, string name, ReadOnlySpan<byte> value) => UnixFile.SetXattr(this[relative], name, value);

    internal void SetMtime(string relative, long unixNanoseconds) => _mtimes[relative] = unixNanoseconds;

    /// <summary>Sets every entry's mtime: the one given with <see cref="SetMtime"/>, else <paramref name="defaultMtime"/>.</summary>
    internal void ApplyTimes(long defaultMtime)
    {
        // Deepest paths first, so setting a child's time does not disturb its parent's afterwards.
        var all = Trees.TreeSnapshot.Capture(Root, hashContent: false).Entries.Keys
            .OrderByDescending(p => p == "." ? -1 : p.Count(c => c == '/'))
            .ThenBy(p => p, StringComparer.Ordinal);
        foreach (string relative in all)
        {
            UnixFile.SetModificationTime(relative == "." ? Root : Path.Combine(Root, relative), _mtimes.GetValueOrDefault(relative, defaultMtime));
        }
    }

    internal static UnixFileMode Mode(string octal) => (UnixFileMode)Convert.ToInt32(octal, 8);

    private static void EnsureParent(string path)
    {
        string parent = Path.GetDirectoryName(path)!;
        if (!System.IO.Directory.Exists(parent))
        {
            EnsureParent(parent);
            System.IO.Directory.CreateDirectory(parent);
            System.IO.File.SetUnixFileMode(parent, Mode("755"));
        }
    }
}
