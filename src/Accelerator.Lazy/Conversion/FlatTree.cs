using System.Text;
using Accelerator.Lazy.Format;
using Accelerator.Oci.Layers;

namespace Accelerator.Lazy.Conversion;

/// <summary>
/// The flattened tree of an image, built in memory from its layers with the semantics of <see cref="LayerApplier"/>
/// on disk (see src/Accelerator.Oci/Layers/README.md): names cleaned lexically and never above the root; parent
/// directories resolved inside the root, following symbolic links (absolute ones from the root, <c>..</c> clamped at
/// the root, at most 40 links), missing ones made with mode 0755; final components never followed; whiteouts and
/// opaque markers hide lower layers only; hard links share one node; a directory entry over a directory keeps its
/// children and adds its xattrs. Only metadata is held; file data goes to a <see cref="IFileContentSink"/>.
/// </summary>
internal sealed class FlatTree
{
    // Linux follows at most 40 symbolic links in one path resolution (MAXSYMLINKS); more is ELOOP.
    private const int MaxSymlinkFollows = 40;

    /// <summary>The root directory, mode 0755, owned by 0:0, at the Unix epoch until a layer sets it.</summary>
    public FlatNode Root { get; } = FlatNode.Directory(0x1ED);

    /// <summary>Applies one layer's entries, lowest layer first.</summary>
    public async Task ApplyLayerAsync(LayerTarReader reader, IFileContentSink content, CancellationToken cancellationToken)
    {
        var layer = new Layer(this, content);
        while (await reader.ReadNextAsync(cancellationToken).ConfigureAwait(false) is { } entry)
        {
            await layer.ApplyAsync(entry, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Resolves the directory the first <paramref name="count"/> components name, like openat2(RESOLVE_IN_ROOT) would.
    /// With <paramref name="create"/>, missing directories are made (mode 0755, 0:0, time <paramref name="time"/>)
    /// and reported to <paramref name="onCreated"/>; without, null is returned when something is missing.
    /// </summary>
    /// <exception cref="IOException">A component is not a directory, links loop, or (with <paramref name="create"/>) a
    /// symbolic link leads nowhere.</exception>
    public FlatNode? ResolveDirectory(IReadOnlyList<string> components, int count, bool create, TarTimestamp time = default, Action<int>? onCreated = null)
    {
        var stack = new List<FlatNode> { Root };
        int follows = 0;
        for (int i = 0; i < count; i++)
        {
            FlatNode current = stack[^1];
            if (!current.Children!.TryGetValue(components[i], out FlatNode? next))
            {
                if (!create)
                {
                    return null;
                }

                next = FlatNode.Directory(0x1ED);
                next.MtimeSeconds = time.Seconds;
                next.MtimeNanoseconds = time.Nanoseconds;
                current.Children.Add(components[i], next);
                onCreated?.Invoke(i + 1);
                stack.Add(next);
                continue;
            }

            switch (next.Type)
            {
                case FileEntryType.Directory:
                    stack.Add(next);
                    break;
                case FileEntryType.Symlink:
                    if (!Follow(stack, next.LinkTarget!, ref follows, components, i + 1))
                    {
                        return create
                            ? throw new IOException($"'{Join(components, i + 1)}' exists but does not lead to a directory inside the root (a dangling symbolic link?).")
                            : null;
                    }

                    break;
                default:
                    throw new IOException($"'{Join(components, i + 1)}' is not a directory.");
            }
        }

        return stack[^1];
    }

    /// <summary>Like <see cref="ResolveDirectory"/> without creating, but null instead of an exception.</summary>
    public FlatNode? ResolveDirectoryOrNull(IReadOnlyList<string> components, int count)
    {
        try
        {
            return ResolveDirectory(components, count, create: false);
        }
        catch (IOException)
        {
            return null;
        }
    }

    // Follows a symbolic link's target from the directory on top of the stack (the physical path from the root);
    // false when a component is missing.
    private bool Follow(List<FlatNode> stack, string target, ref int follows, IReadOnlyList<string> components, int count)
    {
        if (++follows > MaxSymlinkFollows)
        {
            throw new IOException($"'{Join(components, count)}' has too many levels of symbolic links.");
        }

        if (target.StartsWith('/'))
        {
            stack.RemoveRange(1, stack.Count - 1);
        }

        foreach (string part in target.Split('/'))
        {
            switch (part)
            {
                case "" or ".":
                    continue;
                case "..":
                    if (stack.Count > 1)
                    {
                        stack.RemoveAt(stack.Count - 1);
                    }

                    continue;
            }

            if (!stack[^1].Children!.TryGetValue(part, out FlatNode? next))
            {
                return false;
            }

            switch (next.Type)
            {
                case FileEntryType.Directory:
                    stack.Add(next);
                    break;
                case FileEntryType.Symlink:
                    if (!Follow(stack, next.LinkTarget!, ref follows, components, count))
                    {
                        return false;
                    }

                    break;
                default:
                    throw new IOException($"'{Join(components, count)}' is not a directory.");
            }
        }

        return true;
    }

    public static string Join(IReadOnlyList<string> components, int count) =>
        count == 0 ? "." : string.Join('/', components.Take(count));

    /// <summary>The state of applying one layer: what it made, so its whiteouts leave that alone.</summary>
    private sealed class Layer(FlatTree tree, IFileContentSink content)
    {
        private readonly HashSet<string> _madeByLayer = new(StringComparer.Ordinal);

        public async ValueTask ApplyAsync(LayerTarEntry entry, CancellationToken cancellationToken)
        {
            TarEntryHeader header = entry.Header;
            List<string> components = LayerPaths.Split(header.Path);
            if (components.Count == 0)
            {
                // "." names the root itself; it must stay a directory.
                if (header.Kind != TarEntryKind.Directory)
                {
                    throw new InvalidDataException($"Tar entry '{header.Path}' names the root directory but is a {header.Kind}, not a directory.");
                }

                SetAttributes(tree.Root, header);
                return;
            }

            CheckNames(components, header.Path);
            string name = components[^1];
            if (name.StartsWith(LayerWhiteouts.Prefix, StringComparison.Ordinal))
            {
                ApplyWhiteout(header, components);
                return;
            }

            string key = Join(components, components.Count);
            FlatNode parent = tree.ResolveDirectory(components, components.Count - 1, create: true, header.ModificationTime, n => MarkMade(components, n))!;
            var children = parent.Children!;
            switch (header.Kind)
            {
                case TarEntryKind.Directory:
                    if (!children.TryGetValue(name, out FlatNode? directory) || !directory.IsDirectory)
                    {
                        directory = FlatNode.Directory(0x1C0);
                        children[name] = directory;
                    }

                    SetAttributes(directory, header);
                    break;

                case TarEntryKind.RegularFile:
                    children.Remove(name);
                    var file = FlatNode.File(0x180);
                    (file.Size, file.Chunks) = await content.WriteAsync(entry, cancellationToken).ConfigureAwait(false);
                    SetAttributes(file, header);
                    children[name] = file;
                    break;

                case TarEntryKind.SymbolicLink:
                    if (Encoding.UTF8.GetByteCount(header.LinkTarget!) > LazyFormat.MaxSymlinkBytes)
                    {
                        throw new InvalidDataException($"Tar entry '{header.Path}' is a symbolic link whose target is longer than {LazyFormat.MaxSymlinkBytes} bytes.");
                    }

                    children.Remove(name);
                    var link = FlatNode.Symlink(header.LinkTarget!);
                    SetAttributes(link, header);
                    children[name] = link;
                    break;

                case TarEntryKind.HardLink:
                    CreateHardLink(parent, name, key, header);
                    break;

                case TarEntryKind.CharacterDevice or TarEntryKind.BlockDevice or TarEntryKind.Fifo:
                    children.Remove(name);
                    var special = header.Kind switch
                    {
                        TarEntryKind.CharacterDevice => FlatNode.Special(FileEntryType.CharDevice, 0x180, (uint)header.DeviceMajor, (uint)header.DeviceMinor),
                        TarEntryKind.BlockDevice => FlatNode.Special(FileEntryType.BlockDevice, 0x180, (uint)header.DeviceMajor, (uint)header.DeviceMinor),
                        _ => FlatNode.Special(FileEntryType.Fifo, 0x180, 0, 0),
                    };
                    SetAttributes(special, header);
                    children[name] = special;
                    break;
            }

            MarkMade(components, components.Count);
        }

        private void ApplyWhiteout(TarEntryHeader header, List<string> components)
        {
            string name = components[^1];
            if (name == LayerWhiteouts.OpaqueMarker)
            {
                FlatNode directory = tree.ResolveDirectory(components, components.Count - 1, create: true, header.ModificationTime, n => MarkMade(components, n))!;
                MarkMade(components, components.Count - 1);
                RemoveLowerContent(directory, Join(components, components.Count - 1));
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
            if (_madeByLayer.Contains(Join(targetComponents, targetComponents.Count)))
            {
                // A whiteout hides lower layers only; this layer's own entry of that name stays.
                return;
            }

            tree.ResolveDirectory(components, components.Count - 1, create: false)?.Children!.Remove(target);
        }

        // Empties a directory of everything lower layers put there, keeping (and descending into) what this layer made.
        private void RemoveLowerContent(FlatNode directory, string key)
        {
            foreach (string child in directory.Children!.Keys.ToList())
            {
                string childKey = key == "." ? child : $"{key}/{child}";
                if (!_madeByLayer.Contains(childKey))
                {
                    directory.Children.Remove(child);
                }
                else if (directory.Children[child].IsDirectory)
                {
                    RemoveLowerContent(directory.Children[child], childKey);
                }
            }
        }

        private void CreateHardLink(FlatNode parent, string name, string key, TarEntryHeader header)
        {
            List<string> target = LayerPaths.Split(header.LinkTarget!);
            if (target.Count == 0)
            {
                throw new InvalidDataException($"Hard link '{header.Path}' points at the root directory.");
            }

            if (Join(target, target.Count) == key)
            {
                throw new InvalidDataException($"Hard link '{header.Path}' points at itself.");
            }

            FlatNode node = FindTarget(target, header);
            if (node.IsDirectory)
            {
                throw new InvalidDataException($"Hard link '{header.Path}' points at a directory.");
            }

            parent.Children!.Remove(name);

            // On disk the link is made after the name is cleared; if that removed the target (the same file reached
            // through a symbolic link) or a directory above it, there is nothing left to link to.
            if (!ReferenceEquals(tree.ResolveDirectory(target, target.Count - 1, create: false)?.Children!.GetValueOrDefault(target[^1]), node))
            {
                throw new IOException($"Hard link '{header.Path}' points at '{header.LinkTarget}', which does not exist in the root.");
            }

            parent.Children[name] = node;
        }

        private FlatNode FindTarget(List<string> target, TarEntryHeader header) =>
            tree.ResolveDirectory(target, target.Count - 1, create: false)?.Children!.GetValueOrDefault(target[^1])
            ?? throw new IOException($"Hard link '{header.Path}' points at '{header.LinkTarget}', which does not exist in the root.");

        private static void SetAttributes(FlatNode node, TarEntryHeader header)
        {
            if (header.Uid is < 0 or >= uint.MaxValue || header.Gid is < 0 or >= uint.MaxValue)
            {
                throw new InvalidDataException($"Tar entry '{header.Path}' has an owner id out of range.");
            }

            node.Uid = (uint)header.Uid;
            node.Gid = (uint)header.Gid;
            if (node.Type != FileEntryType.Symlink)
            {
                node.Mode = (uint)header.Mode & 0xFFF;
            }

            foreach (var (name, value) in header.ExtendedAttributes)
            {
                if (Encoding.UTF8.GetByteCount(name) > LazyFormat.MaxXattrNameBytes || name.Contains('\0') || value.Length > LazyFormat.MaxXattrValueBytes)
                {
                    throw new InvalidDataException($"Tar entry '{header.Path}' has an xattr '{name}' whose name or value is too long.");
                }

                node.Xattrs ??= new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
                node.Xattrs[name] = value.ToArray();
            }

            // The bootstrap keeps DateTimeOffset's range (years 1 to 9999), which FileEntry exposes.
            TarTimestamp time = header.ModificationTime;
            if (time.Seconds is < -62_135_596_800L or > 253_402_300_799L || time.Nanoseconds is < 0 or >= 1_000_000_000)
            {
                throw new InvalidDataException($"Tar entry '{header.Path}' has a modification time out of range.");
            }

            node.MtimeSeconds = time.Seconds;
            node.MtimeNanoseconds = time.Nanoseconds;
        }

        private static void CheckNames(List<string> components, string path)
        {
            foreach (string name in components)
            {
                if (Encoding.UTF8.GetByteCount(name) > LazyFormat.MaxNameBytes)
                {
                    throw new InvalidDataException($"Tar entry '{path}' has a name component longer than {LazyFormat.MaxNameBytes} bytes.");
                }
            }
        }

        private void MarkMade(List<string> components, int count)
        {
            for (int i = count; i > 0; i--)
            {
                if (!_madeByLayer.Add(Join(components, i)))
                {
                    break;
                }
            }
        }
    }
}

/// <summary>Where the converter sends regular files' data: it returns the file's logical size and its chunk pieces.</summary>
internal interface IFileContentSink
{
    ValueTask<(long Size, IReadOnlyList<FileChunkReference> Chunks)> WriteAsync(LayerTarEntry entry, CancellationToken cancellationToken);
}
