using Accelerator.Oci.Layers;

namespace Accelerator.Seekable.Reading;

/// <summary>One node of a <see cref="SeekableLayerTree"/>: a file, directory, link, device or whiteout. Hard links share one.</summary>
internal sealed class SeekableTreeNode
{
    private static readonly byte[] OpaqueValue = "y"u8.ToArray();

    public FileEntryType Type { get; private set; }

    public uint Mode { get; private set; }

    public uint Uid { get; private set; }

    public uint Gid { get; private set; }

    public UnixTime ModificationTime { get; private set; }

    public string? LinkTarget { get; private set; }

    public uint DeviceMajor { get; private set; }

    public uint DeviceMinor { get; private set; }

    /// <summary>The image's extended attributes, overlay ones dropped; null when none.</summary>
    public Dictionary<string, byte[]>? ExtendedAttributes { get; set; }

    /// <summary>A regular file's entry: where its bytes lie in the layer's data space.</summary>
    public SeekableEntry? Content { get; private set; }

    /// <summary>Children of a directory by name; null for anything else.</summary>
    public Dictionary<string, SeekableTreeNode>? Children { get; private set; }

    /// <summary>Whether a directory's attributes come from the tar (false: made for a path under it, settled by the forest).</summary>
    public bool IsExplicit { get; set; }

    /// <summary>Whether a directory hides lower layers' content (opaque marker).</summary>
    public bool IsOpaque { get; set; }

    /// <summary>Whether the node is this layer's whiteout (a 0/0 character device).</summary>
    public bool IsWhiteout { get; private set; }

    /// <summary>Names of the node in the layer (hard links).</summary>
    public int LinkCount { get; set; }

    public static SeekableTreeNode ImplicitDirectory() => new()
    {
        Type = FileEntryType.Directory,
        Mode = 0x1ED, // 0755
        Children = new(StringComparer.Ordinal),
    };

    public static SeekableTreeNode Whiteout(TarEntryHeader header) => new()
    {
        // overlayfs's whiteout: a character device 0/0 (Documentation/filesystems/overlayfs.rst, "whiteouts").
        Type = FileEntryType.CharDevice,
        ModificationTime = new UnixTime(header.ModificationTime.Seconds, header.ModificationTime.Nanoseconds),
        IsWhiteout = true,
    };

    public static SeekableTreeNode FromHeader(SeekableEntry entry, SeekableLayerIndex index)
    {
        var header = entry.Header;
        var node = new SeekableTreeNode
        {
            Type = header.Kind switch
            {
                TarEntryKind.RegularFile => FileEntryType.Regular,
                TarEntryKind.Directory => FileEntryType.Directory,
                TarEntryKind.SymbolicLink => FileEntryType.Symlink,
                TarEntryKind.CharacterDevice => FileEntryType.CharDevice,
                TarEntryKind.BlockDevice => FileEntryType.BlockDevice,
                TarEntryKind.Fifo => FileEntryType.Fifo,
                _ => throw new InvalidDataException($"Layer {index.Layer.Digest}: entry '{header.Path}' has kind {header.Kind}, which a tree cannot hold."),
            },
        };
        node.SetAttributes(header);
        switch (node.Type)
        {
            case FileEntryType.Directory:
                node.Children = new(StringComparer.Ordinal);
                break;
            case FileEntryType.Symlink:
                node.LinkTarget = header.LinkTarget ?? string.Empty;
                break;
            case FileEntryType.CharDevice or FileEntryType.BlockDevice:
                if (header.DeviceMajor < 0 || header.DeviceMinor < 0)
                {
                    throw new InvalidDataException($"Layer {index.Layer.Digest}: entry '{header.Path}' has a negative device number.");
                }

                node.DeviceMajor = (uint)header.DeviceMajor;
                node.DeviceMinor = (uint)header.DeviceMinor;
                break;
            case FileEntryType.Regular:
                CheckContent(entry, index);
                node.Content = entry;
                break;
        }

        return node;
    }

    /// <summary>Takes a directory entry's attributes (a directory listed twice keeps its children).</summary>
    public void SetAttributes(TarEntryHeader header)
    {
        if (header.Uid is < 0 or > uint.MaxValue || header.Gid is < 0 or > uint.MaxValue)
        {
            throw new InvalidDataException($"Entry '{header.Path}' has an owner id out of range ({header.Uid}:{header.Gid}).");
        }

        Mode = (uint)header.Mode & 0xFFF;
        Uid = (uint)header.Uid;
        Gid = (uint)header.Gid;
        ModificationTime = new UnixTime(header.ModificationTime.Seconds, header.ModificationTime.Nanoseconds);
        IsExplicit = true;
        Dictionary<string, byte[]>? attributes = null;
        foreach (var (name, value) in header.ExtendedAttributes)
        {
            // The image must not forge overlay metadata (opaque, redirect, metacopy): only the tree's own rules set it.
            if (name.StartsWith("trusted.overlay.", StringComparison.Ordinal) || name.StartsWith("user.overlay.", StringComparison.Ordinal))
            {
                continue;
            }

            (attributes ??= new(StringComparer.Ordinal))[name] = value.ToArray();
        }

        ExtendedAttributes = attributes;
    }

    /// <summary>The attributes an implicit directory takes from the nearest lower layer's directory at its path.</summary>
    public void SettleFrom(SeekableTreeNode? lower)
    {
        if (lower is not null)
        {
            Mode = lower.Mode;
            Uid = lower.Uid;
            Gid = lower.Gid;
            ModificationTime = lower.ModificationTime;
            ExtendedAttributes = lower.ExtendedAttributes;
        }
    }

    /// <summary>The extended attributes as served: the image's, plus the opaque mark.</summary>
    public IReadOnlyDictionary<string, byte[]>? ServedAttributes()
    {
        if (!IsOpaque)
        {
            return ExtendedAttributes;
        }

        var attributes = ExtendedAttributes is null ? new Dictionary<string, byte[]>(StringComparer.Ordinal) : new Dictionary<string, byte[]>(ExtendedAttributes, StringComparer.Ordinal);
        attributes[SeekableLayerTree.OpaqueAttribute] = OpaqueValue;
        return attributes;
    }

    private static void CheckContent(SeekableEntry entry, SeekableLayerIndex index)
    {
        var header = entry.Header;
        if (header.SparseMap is not null)
        {
            throw new InvalidDataException($"Layer {index.Layer.Digest}: entry '{header.Path}' is a sparse file, which a seekable layer cannot serve.");
        }

        if (header.Size < 0 || entry.DataOffset < 0 || entry.DataOffset > long.MaxValue - header.Size)
        {
            throw new InvalidDataException($"Layer {index.Layer.Digest}: entry '{header.Path}' has a size or offset out of range.");
        }

        if (header.Size > 0 && (index.FindUnit(entry.DataOffset) < 0 || index.FindUnit(entry.DataOffset + header.Size - 1) < 0))
        {
            throw new InvalidDataException($"Layer {index.Layer.Digest}: the content of '{header.Path}' ({entry.DataOffset}+{header.Size}) is not covered by the index's units.");
        }
    }
}
