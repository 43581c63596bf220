using System.Buffers;
using Accelerator.Linux;
using Microsoft.Win32.SafeHandles;

namespace Accelerator.Oci.Layers;

/// <summary>The state of applying one layer: the root, what this layer made, directory times to set last.</summary>
internal sealed class LayerApplication(RootedDirectory root, LayerApplyOptions options) : IDisposable
{
    private const uint NewFileMode = 0x180; // 0600 until the archive's mode is set

    private readonly bool _chown = options.PreserveOwnership ?? LibC.Geteuid() == 0;

    // Paths this layer put in place (and their ancestors): whiteouts and opaque markers leave them alone.
    private readonly HashSet<string> _madeByLayer = new(StringComparer.Ordinal);

    // Directory modification times, set after every entry because adding children changes them.
    private readonly Dictionary<string, (List<string> Components, TarTimestamp Time)> _directoryTimes = new(StringComparer.Ordinal);
    private string? _rootRealPath;

    public LayerApplyReport Report { get; } = new();

    public async ValueTask ApplyAsync(LayerTarEntry entry, CancellationToken cancellationToken)
    {
        TarEntryHeader header = entry.Header;
        Report.Entries++;
        List<string> components = LayerPaths.Split(header.Path);
        if (components.Count == 0)
        {
            ApplyRoot(header);
            return;
        }

        string name = components[^1];
        if (name.StartsWith(LayerWhiteouts.Prefix, StringComparison.Ordinal))
        {
            ApplyWhiteout(header, components);
            return;
        }

        string key = RootedDirectory.Join(components, components.Count);
        KeepAncestorTime(components, components.Count - 1);
        int parent = root.OpenDirectory(components, components.Count - 1, create: true, n => MarkMade(components, n));
        try
        {
            switch (header.Kind)
            {
                case TarEntryKind.Directory:
                    FileStatus? existing = LibC.Lstat(parent, name);
                    if (existing is not { IsDirectory: true })
                    {
                        RootedDirectory.RemoveAll(parent, name);
                        LibC.Check(LibC.MkdirAt(parent, name, 0x1C0 /* 0700 */), "mkdir", key);
                    }

                    SetAttributes(parent, name, header, time: null);
                    _directoryTimes[key] = (components, header.ModificationTime);
                    Report.Directories++;
                    break;

                case TarEntryKind.RegularFile:
                    RootedDirectory.RemoveAll(parent, name);
                    await WriteFileAsync(parent, name, key, entry, cancellationToken).ConfigureAwait(false);
                    Report.Files++;
                    break;

                case TarEntryKind.SymbolicLink:
                    RootedDirectory.RemoveAll(parent, name);
                    LibC.Check(LibC.SymlinkAt(header.LinkTarget!, parent, name), "symlink", key);
                    SetLinkAttributes(parent, name, header);
                    Report.Links++;
                    break;

                case TarEntryKind.HardLink:
                    CreateHardLink(parent, name, key, header);
                    Report.Links++;
                    break;

                case TarEntryKind.CharacterDevice or TarEntryKind.BlockDevice or TarEntryKind.Fifo:
                    RootedDirectory.RemoveAll(parent, name);
                    uint type = header.Kind switch
                    {
                        TarEntryKind.CharacterDevice => LibC.S_IFCHR,
                        TarEntryKind.BlockDevice => LibC.S_IFBLK,
                        _ => LibC.S_IFIFO,
                    };
                    ulong device = header.Kind == TarEntryKind.Fifo ? 0 : LibC.MakeDev((uint)header.DeviceMajor, (uint)header.DeviceMinor);
                    LibC.Check(LibC.MknodAt(parent, name, type | NewFileMode, device), "mknod", key);
                    SetAttributes(parent, name, header, header.ModificationTime);
                    Report.SpecialFiles++;
                    break;
            }
        }
        finally
        {
            LibC.Close(parent);
        }

        if (header.Kind != TarEntryKind.Directory)
        {
            _directoryTimes.Remove(key);
        }

        MarkMade(components, components.Count);
    }

    /// <summary>
    /// Remembers the time of the deepest existing directory among the first <paramref name="depth"/> components, which
    /// the entry about to be applied may change by adding or removing a name in it. A layer that changes a directory
    /// without listing it leaves that directory's time as the lower layers set it (umoci does the same), so the
    /// flattened tree depends only on the layers, not on when they were applied.
    /// </summary>
    private void KeepAncestorTime(List<string> components, int depth)
    {
        for (; depth >= 0; depth--)
        {
            string key = RootedDirectory.Join(components, depth);
            if (_directoryTimes.ContainsKey(key))
            {
                return;
            }

            int directory = root.OpenDirectory(components, depth, create: false);
            if (directory < 0)
            {
                continue;
            }

            try
            {
                // The path may lead through symbolic links (lib -> usr/lib): remember the time under the directory's
                // real path inside the root, which is where Finish must put it back.
                if (LibC.Lstat(directory, ".") is { IsDirectory: true } status && RealComponents(directory) is { } real)
                {
                    string realKey = RootedDirectory.Join(real, real.Count);
                    _directoryTimes.TryAdd(realKey, (real, new TarTimestamp(status.MtimeSeconds, (int)status.MtimeNanoseconds)));
                }
            }
            finally
            {
                LibC.Close(directory);
            }

            return;
        }
    }

    /// <summary>The path components, inside the root, of the directory an open descriptor refers to; null if outside.</summary>
    private List<string>? RealComponents(int directory)
    {
        _rootRealPath ??= new FileInfo($"/proc/self/fd/{root.Fd}").LinkTarget;
        string? real = new FileInfo($"/proc/self/fd/{directory}").LinkTarget;
        if (_rootRealPath is null || real is null)
        {
            return null;
        }

        if (real == _rootRealPath)
        {
            return [];
        }

        string prefix = _rootRealPath.EndsWith('/') ? _rootRealPath : _rootRealPath + "/";
        return real.StartsWith(prefix, StringComparison.Ordinal) ? [.. real[prefix.Length..].Split('/')] : null;
    }

    /// <summary>Sets the times of the directories this layer holds, now that nothing more is added to them.</summary>
    public void Finish()
    {
        foreach (var (key, (components, time)) in _directoryTimes)
        {
            if (components.Count == 0)
            {
                SetTime(LibC.AT_FDCWD, LibC.DescriptorPath(root.Fd), time, key, flags: 0);
                continue;
            }

            int parent;
            try
            {
                parent = root.OpenDirectory(components, components.Count - 1, create: false);
            }
            catch (IOException)
            {
                // A later entry replaced an ancestor with a non-directory: the directory is gone.
                continue;
            }

            if (parent < 0)
            {
                continue;
            }

            try
            {
                // Opened without following: a name that is no longer a directory (or now a symbolic link) is skipped.
                int directory = LibC.OpenAt(parent, components[^1], LibC.O_PATH | LibC.O_DIRECTORY | LibC.O_NOFOLLOW | LibC.O_CLOEXEC, 0);
                if (directory >= 0)
                {
                    try
                    {
                        SetTime(LibC.AT_FDCWD, LibC.DescriptorPath(directory), time, key, flags: 0);
                    }
                    finally
                    {
                        LibC.Close(directory);
                    }
                }
            }
            finally
            {
                LibC.Close(parent);
            }
        }
    }

    private void ApplyRoot(TarEntryHeader header)
    {
        // "." (or "/", "./", "..") names the root itself. It must stay a directory: a symbolic link or file there
        // would redirect or replace everything that follows.
        if (header.Kind != TarEntryKind.Directory)
        {
            throw new InvalidDataException($"Tar entry '{header.Path}' names the root directory but is a {header.Kind}, not a directory.");
        }

        SetAttributes(root.Fd, header, time: null);
        _directoryTimes[RootedDirectory.Join(components: [], count: 0)] = ([], header.ModificationTime);
        Report.Directories++;
    }

    private void ApplyWhiteout(TarEntryHeader header, List<string> components)
    {
        string name = components[^1];
        if (name == LayerWhiteouts.OpaqueMarker)
        {
            KeepAncestorTime(components, components.Count - 1);
            int directory = root.OpenDirectory(components, components.Count - 1, create: true, n => MarkMade(components, n));
            try
            {
                MarkMade(components, components.Count - 1);
                RemoveLowerContent(directory, RootedDirectory.Join(components, components.Count - 1));
            }
            finally
            {
                LibC.Close(directory);
            }

            Report.Whiteouts++;
            return;
        }

        if (name.StartsWith(LayerWhiteouts.MetadataPrefix, StringComparison.Ordinal))
        {
            // aufs bookkeeping such as .wh..wh.plnk: never part of the image's content.
            return;
        }

        string target = name[LayerWhiteouts.Prefix.Length..];
        if (target is "" or "." or "..")
        {
            throw new InvalidDataException($"Whiteout '{header.Path}' does not name a file.");
        }

        List<string> targetComponents = [.. components[..^1], target];
        string key = RootedDirectory.Join(targetComponents, targetComponents.Count);
        if (_madeByLayer.Contains(key))
        {
            // A whiteout hides lower layers only; this layer's own entry of that name stays.
            return;
        }

        KeepAncestorTime(components, components.Count - 1);
        int parent = root.OpenDirectory(components, components.Count - 1, create: false);
        if (parent < 0)
        {
            return;
        }

        try
        {
            RootedDirectory.RemoveAll(parent, target);
        }
        finally
        {
            LibC.Close(parent);
        }

        Report.Whiteouts++;
    }

    // Empties a directory of everything lower layers put there, keeping (and descending into) what this layer made.
    private void RemoveLowerContent(int directory, string key)
    {
        foreach (string child in RootedDirectory.List(directory))
        {
            string childKey = key == "." ? child : $"{key}/{child}";
            if (!_madeByLayer.Contains(childKey))
            {
                RootedDirectory.RemoveAll(directory, child);
                continue;
            }

            if (LibC.Lstat(directory, child) is { IsDirectory: true })
            {
                int fd = LibC.OpenAt(directory, child, LibC.O_PATH | LibC.O_DIRECTORY | LibC.O_NOFOLLOW | LibC.O_CLOEXEC, 0);
                LibC.Check(fd, "open", childKey);
                try
                {
                    RemoveLowerContent(fd, childKey);
                }
                finally
                {
                    LibC.Close(fd);
                }
            }
        }
    }

    private void CreateHardLink(int parent, string name, string key, TarEntryHeader header)
    {
        List<string> target = LayerPaths.Split(header.LinkTarget!);
        if (target.Count == 0)
        {
            throw new InvalidDataException($"Hard link '{header.Path}' points at the root directory.");
        }

        string targetKey = RootedDirectory.Join(target, target.Count);
        if (targetKey == key)
        {
            throw new InvalidDataException($"Hard link '{header.Path}' points at itself.");
        }

        // The target's directory is resolved inside the root like any path; its final component is linked as it
        // is (linkat without AT_SYMLINK_FOLLOW), so a symbolic link target yields a link to the symbolic link.
        int targetParent = root.OpenDirectory(target, target.Count - 1, create: false);
        if (targetParent < 0)
        {
            throw new IOException($"Hard link '{header.Path}' points at '{header.LinkTarget}', which does not exist in the root.");
        }

        try
        {
            FileStatus? status = LibC.Lstat(targetParent, target[^1]);
            if (status is null)
            {
                throw new IOException($"Hard link '{header.Path}' points at '{header.LinkTarget}', which does not exist in the root.");
            }

            if (status.Value.IsDirectory)
            {
                throw new InvalidDataException($"Hard link '{header.Path}' points at a directory.");
            }

            RootedDirectory.RemoveAll(parent, name);
            LibC.Check(LibC.LinkAt(targetParent, target[^1], parent, name, 0), "link", key);
        }
        finally
        {
            LibC.Close(targetParent);
        }
    }

    private async ValueTask WriteFileAsync(int parent, string name, string key, LayerTarEntry entry, CancellationToken cancellationToken)
    {
        int fd = LibC.OpenAt(parent, name, LibC.O_WRONLY | LibC.O_CREAT | LibC.O_EXCL | LibC.O_NOFOLLOW | LibC.O_CLOEXEC, NewFileMode);
        LibC.Check(fd, "create", key);
        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(128 * 1024);
        try
        {
            IReadOnlyList<TarSparseSegment> segments = entry.Header.SparseMap ?? [new TarSparseSegment(0, entry.Data.Length)];
            foreach (TarSparseSegment segment in segments)
            {
                long written = 0;
                while (written < segment.Length)
                {
                    int want = (int)Math.Min(buffer.Length, segment.Length - written);
                    int read = await entry.Data.ReadAsync(buffer.AsMemory(0, want), cancellationToken).ConfigureAwait(false);
                    if (read == 0)
                    {
                        throw new InvalidDataException($"Tar entry '{entry.Header.Path}' has less data than its size.");
                    }

                    RandomAccess.Write(handle, buffer.AsSpan(0, read), segment.Offset + written);
                    written += read;
                }

                Report.BytesWritten += written;
            }

            // Holes after the last segment: setting the size keeps them unallocated.
            LibC.Check(LibC.Ftruncate(fd, entry.Header.Size), "truncate", key);

            // Through the descriptor the data went through: the name may already point elsewhere.
            SetAttributes(fd, entry.Header, entry.Header.ModificationTime);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Sets the owner, mode, extended attributes and (when given) time of what this entry just made at
    /// <paramref name="parent"/>/<paramref name="name"/>. The name is opened once without following (O_PATH |
    /// O_NOFOLLOW) and every change goes through that descriptor: if the name was replaced meanwhile (by a symbolic
    /// link to a directory outside the root, say), the type check fails and nothing is changed anywhere.
    /// </summary>
    private void SetAttributes(int parent, string name, TarEntryHeader header, TarTimestamp? time)
    {
        int fd = LibC.OpenAt(parent, name, LibC.O_PATH | LibC.O_NOFOLLOW | LibC.O_CLOEXEC, 0);
        LibC.Check(fd, "open", header.Path);
        try
        {
            if (LibC.Fstat(fd).Type != FileType(header.Kind))
            {
                throw new IOException($"'{header.Path}' in '{root.Path}' was replaced while its entry was applied.");
            }

            SetAttributes(fd, header, time);
        }
        finally
        {
            LibC.Close(fd);
        }
    }

    /// <summary>Sets owner, mode, extended attributes and time on the inode <paramref name="fd"/> holds (O_PATH or open).</summary>
    private void SetAttributes(int fd, TarEntryHeader header, TarTimestamp? time)
    {
        string where = header.Path;
        if (_chown)
        {
            CheckOwner(header);
            LibC.Check(LibC.FchownAt(fd, string.Empty, (uint)header.Uid, (uint)header.Gid, LibC.AT_EMPTY_PATH), "chown", where);
        }

        // After chown, which clears set-user-ID and set-group-ID. fchmod does not take O_PATH descriptors; the
        // descriptor's /proc/self/fd entry leads to the same inode and nothing else.
        string self = LibC.DescriptorPath(fd);
        LibC.Check(LibC.FchmodAt(LibC.AT_FDCWD, self, (uint)header.Mode, 0), "chmod", where);
        foreach (var (attribute, value) in header.ExtendedAttributes)
        {
            LibC.SetXattr(fd, attribute, value.Span);
        }

        if (time is { } t)
        {
            SetTime(LibC.AT_FDCWD, self, t, where, flags: 0);
        }
    }

    // A symbolic link has no mode of its own; every call here acts on the link itself (AT_SYMLINK_NOFOLLOW,
    // lsetxattr), relative to the parent's descriptor, so nothing it points at is touched.
    private void SetLinkAttributes(int parent, string name, TarEntryHeader header)
    {
        string where = header.Path;
        if (_chown)
        {
            CheckOwner(header);
            LibC.Check(LibC.FchownAt(parent, name, (uint)header.Uid, (uint)header.Gid, LibC.AT_SYMLINK_NOFOLLOW), "chown", where);
        }

        if (header.ExtendedAttributes.Count > 0)
        {
            string path = $"{LibC.DescriptorPath(parent)}/{name}";
            foreach (var (attribute, value) in header.ExtendedAttributes)
            {
                LibC.SetXattr(path, attribute, value.Span);
            }
        }

        SetTime(parent, name, header.ModificationTime, where, LibC.AT_SYMLINK_NOFOLLOW);
    }

    private static void CheckOwner(TarEntryHeader header)
    {
        if (header.Uid is < 0 or >= uint.MaxValue || header.Gid is < 0 or >= uint.MaxValue)
        {
            throw new InvalidDataException($"Tar entry '{header.Path}' has an owner id out of range.");
        }
    }

    private static uint FileType(TarEntryKind kind) => kind switch
    {
        TarEntryKind.Directory => LibC.S_IFDIR,
        TarEntryKind.RegularFile => LibC.S_IFREG,
        TarEntryKind.CharacterDevice => LibC.S_IFCHR,
        TarEntryKind.BlockDevice => LibC.S_IFBLK,
        TarEntryKind.Fifo => LibC.S_IFIFO,
        _ => LibC.S_IFLNK,
    };

    private static void SetTime(int parent, string name, TarTimestamp time, string where, int flags)
    {
        var timespec = new LibC.Timespec { Seconds = time.Seconds, Nanoseconds = time.Nanoseconds };
        LibC.Check(LibC.UtimensAt(parent, name, timespec, timespec, flags), "utimensat", where);
    }

    private void MarkMade(List<string> components, int count)
    {
        for (int i = count; i > 0; i--)
        {
            if (!_madeByLayer.Add(RootedDirectory.Join(components, i)))
            {
                break;
            }
        }
    }

    public void Dispose() => root.Dispose();
}
