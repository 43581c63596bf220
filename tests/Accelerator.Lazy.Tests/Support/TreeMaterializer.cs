using Accelerator.Lazy.Format;
using Accelerator.Testing.Interop;

namespace Accelerator.Lazy.Tests.Support;

/// <summary>
/// Writes a lazy image's tree to a directory from its <see cref="IChunkIndex"/> and chunks alone: every file's bytes
/// are read chunk by chunk with ranged reads from the data blobs and verified by chunk digest, holes are left as holes,
/// and links, devices, fifos, owners, modes, xattrs and nanosecond mtimes are recreated — the check the FUSE mount
/// will make against <c>umoci unpack</c>.
/// </summary>
internal static class TreeMaterializer
{
    public static async Task<MaterializeReport> MaterializeAsync(LazyImage image, string target)
    {
        IChunkIndex index = image.Bootstrap;
        Directory.CreateDirectory(target);
        var report = new MaterializeReport();
        var firstPath = new Dictionary<ulong, string>();
        var directories = new List<(string Path, FileEntry Entry)> { (target, index.GetEntry(index.RootInode)!) };
        var others = new List<(string Path, FileEntry Entry)>();
        var pending = new Stack<(ulong Inode, string Path)>();
        pending.Push((index.RootInode, target));
        while (pending.Count > 0)
        {
            var (inode, directory) = pending.Pop();
            foreach (var (name, entry) in index.ReadDirectory(inode))
            {
                string path = Path.Combine(directory, name);
                if (entry.Type != FileEntryType.Directory && firstPath.TryGetValue(entry.Inode, out string? existing))
                {
                    UnixFile.CreateHardLink(existing, path);
                    continue;
                }

                firstPath[entry.Inode] = path;
                switch (entry.Type)
                {
                    case FileEntryType.Directory:
                        Directory.CreateDirectory(path);
                        directories.Add((path, entry));
                        pending.Push((entry.Inode, path));
                        continue;
                    case FileEntryType.Regular:
                        await WriteFileAsync(image, index, entry, path, report);
                        break;
                    case FileEntryType.Symlink:
                        File.CreateSymbolicLink(path, entry.LinkTarget!);
                        break;
                    case FileEntryType.CharDevice:
                        UnixFile.CreateCharacterDevice(path, entry.DeviceMajor, entry.DeviceMinor, (UnixFileMode)entry.Mode);
                        break;
                    case FileEntryType.BlockDevice:
                        UnixFile.CreateBlockDevice(path, entry.DeviceMajor, entry.DeviceMinor, (UnixFileMode)entry.Mode);
                        break;
                    case FileEntryType.Fifo:
                        UnixFile.CreateFifo(path, (UnixFileMode)entry.Mode);
                        break;
                    default:
                        throw new InvalidOperationException($"Unexpected {entry.Type} at {entry.Path}.");
                }

                others.Add((path, entry));
            }
        }

        foreach (var (path, entry) in others)
        {
            SetAttributes(image.Bootstrap, path, entry);
        }

        // Directories deepest first, after their children, so their times stick.
        foreach (var (path, entry) in directories.OrderByDescending(d => d.Path.Length))
        {
            SetAttributes(image.Bootstrap, path, entry);
        }

        return report;
    }

    private static async Task WriteFileAsync(LazyImage image, IChunkIndex index, FileEntry entry, string path, MaterializeReport report)
    {
        using var file = File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write);
        foreach (ChunkLocation chunk in index.GetChunks(entry.Inode))
        {
            byte[] stored = new byte[chunk.CompressedSize];
            int read = await image.Store.Blobs.ReadRangeAsync(image.GetBlobAddress(chunk.Blob), chunk.CompressedOffset, stored);
            Assert.Equal(chunk.CompressedSize, read);
            byte[] data = new byte[chunk.UncompressedSize];
            LazyChunkCodec.Decode(stored, chunk, data);
            RandomAccess.Write(file, data, chunk.FileOffset);
            report.ChunksRead++;
            report.BytesRead += data.Length;
        }

        RandomAccess.SetLength(file, entry.Size);
    }

    private static void SetAttributes(LazyBootstrap bootstrap, string path, FileEntry entry)
    {
        UnixFile.SetOwner(path, entry.Uid, entry.Gid);
        if (entry.Type != FileEntryType.Symlink)
        {
            File.SetUnixFileMode(path, (UnixFileMode)entry.Mode);
        }

        foreach (var (name, value) in entry.ExtendedAttributes ?? new Dictionary<string, byte[]>())
        {
            UnixFile.SetXattr(path, name, value);
        }

        var time = bootstrap.GetModificationTime(entry.Inode);
        UnixFile.SetModificationTime(path, (time.Seconds * 1_000_000_000L) + time.Nanoseconds);
    }
}

/// <summary>What <see cref="TreeMaterializer"/> read.</summary>
internal sealed class MaterializeReport
{
    public int ChunksRead { get; set; }

    public long BytesRead { get; set; }
}
