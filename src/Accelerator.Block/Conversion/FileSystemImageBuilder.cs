using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Accelerator.Linux;

namespace Accelerator.Block.Conversion;

/// <summary>The file system a block image holds.</summary>
public enum BlockFileSystem
{
    /// <summary>ext4, built with <c>mke2fs -d</c> (e2fsprogs): writable through a copy-on-write layer.</summary>
    Ext4,

    /// <summary>EROFS, built with <c>mkfs.erofs</c> (erofs-utils): compact and read-only (writes need an overlay above it).</summary>
    Erofs,
}

/// <summary>
/// Builds a file-system image of a directory tree with the standard tools, reproducibly: owners, modes, xattrs, device
/// nodes, fifos, symlinks, hardlinks and holes are copied from the tree; the UUID, hash seed and the file system's own
/// timestamps are derived from a seed (the source image's digest), so the same tree and seed give the same bytes.
/// ext4 images are checked with <c>e2fsck -fn</c> after they are built.
/// </summary>
public static class FileSystemImageBuilder
{
    /// <summary>The file system's own timestamps (superblock, lost+found): fixed so that builds are reproducible.</summary>
    public const long FixedTime = 1;

    /// <summary>
    /// Builds an image of <paramref name="tree"/> at <paramref name="imagePath"/>; returns its size in bytes (a multiple
    /// of <paramref name="alignment"/>).
    /// </summary>
    /// <param name="tree">The root of the tree (its owner and mode become the root directory's).</param>
    /// <param name="imagePath">The image file to create (replaced when it exists).</param>
    /// <param name="fileSystem">The file system.</param>
    /// <param name="seed">Text the UUID and hash seed are derived from.</param>
    /// <param name="freeBytes">Free space to leave for writes through a copy-on-write layer (costs nothing stored: free blocks are zeros).</param>
    /// <param name="alignment">The size is rounded up to a multiple of this (the block size of the block image).</param>
    /// <param name="cancellationToken">Cancels the build.</param>
    /// <exception cref="InvalidOperationException">A tool failed, or the built image is not clean.</exception>
    public static async Task<long> BuildAsync(
        string tree, string imagePath, BlockFileSystem fileSystem, string seed, long freeBytes, int alignment, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(tree);
        ArgumentException.ThrowIfNullOrEmpty(imagePath);
        ArgumentNullException.ThrowIfNull(seed);
        ArgumentOutOfRangeException.ThrowIfNegative(freeBytes);
        if (!Directory.Exists(tree))
        {
            throw new DirectoryNotFoundException($"The tree {tree} does not exist.");
        }

        File.Delete(imagePath);
        string uuid = DeriveUuid(seed);
        if (fileSystem == BlockFileSystem.Erofs)
        {
            // --preserve-mtime keeps every file's mtime (nanoseconds included); -T or SOURCE_DATE_EPOCH would fix the
            // superblock's build time too but also overwrite every mtime, so EROFS builds are reproducible except for it.
            await RunAsync("mkfs.erofs", ["--quiet", $"-U{uuid}", "--preserve-mtime", imagePath, tree], null, cancellationToken).ConfigureAwait(false);
            return Align(imagePath, alignment);
        }

        (long dataBytes, long entries) = Measure(tree);
        long inodes = Math.Max(1024, entries + (entries / 4) + 64);
        // Data and metadata with a 20% margin, the inode table (256 bytes an inode), a journal and group metadata
        // allowance, and the free space asked for.
        long size = (long)(dataBytes * 1.2) + (inodes * 256) + (16L << 20) + freeBytes;
        size = (size + alignment - 1) / alignment * alignment;
        var arguments = new List<string>
        {
            "-q", "-F", "-t", "ext4", "-b", "4096", "-I", "256", "-m", "0",
            "-N", inodes.ToString(CultureInfo.InvariantCulture),
            "-U", uuid, "-E", $"hash_seed={uuid},nodiscard",
            "-d", tree, imagePath, (size / 1024).ToString(CultureInfo.InvariantCulture) + "k",
        };
        var environment = new Dictionary<string, string> { ["E2FSPROGS_FAKE_TIME"] = FixedTime.ToString(CultureInfo.InvariantCulture) };
        await RunAsync("mke2fs", arguments, environment, cancellationToken).ConfigureAwait(false);
        await FixTimesAsync(tree, imagePath, environment, cancellationToken).ConfigureAwait(false);
        await CheckExt4Async(imagePath, cancellationToken).ConfigureAwait(false);
        return Align(imagePath, alignment);
    }

    /// <summary>Runs <c>e2fsck -fn</c> on an ext4 image; throws <see cref="InvalidOperationException"/> unless it is clean.</summary>
    public static Task CheckExt4Async(string imagePath, CancellationToken cancellationToken = default)
        => RunAsync("e2fsck", ["-fn", imagePath], null, cancellationToken);

    // mke2fs -d copies whole-second mtimes and the staging tree's atimes and ctimes (the time of the pull and of the
    // build), and the root's mtime is the build's. One debugfs pass fixes that: every atime and ctime becomes the fixed
    // time (reproducible output), the root
    // gets the tree's mtime, and nanoseconds go into mtime_extra (ext4 keeps them with 256-byte inodes).
    private static async Task FixTimesAsync(string tree, string imagePath, IReadOnlyDictionary<string, string> environment, CancellationToken cancellationToken)
    {
        string script = imagePath + ".debugfs";
        var lines = new System.Text.StringBuilder();
        void Add(string path, string full, bool root)
        {
            // debugfs takes one double-quoted argument; a name holding a quote, backslash or control character cannot
            // be written as one and keeps mke2fs's times.
            if (path.AsSpan().IndexOfAny("\"\\") >= 0 || path.Any(char.IsControl))
            {
                return;
            }

            var status = LibC.Lstat(full);
            (long seconds, uint nanoseconds) = (status.MtimeSeconds, status.MtimeNanoseconds);
            lines.Append(CultureInfo.InvariantCulture, $"sif \"{path}\" ctime @{FixedTime}\nsif \"{path}\" atime @{FixedTime}\n");
            if (root)
            {
                lines.Append(CultureInfo.InvariantCulture, $"sif \"{path}\" mtime @{seconds}\n");
            }

            if (nanoseconds != 0 || root)
            {
                // ext4 inode extra time: nanoseconds << 2, the low two bits extend the seconds' epoch past 2038.
                long epoch = ((seconds - (int)seconds) >> 32) & 3;
                lines.Append(CultureInfo.InvariantCulture, $"sif \"{path}\" mtime_extra {((long)nanoseconds << 2) | epoch}\n");
            }
        }

        Add("/", tree, root: true);
        // Never through a link: dev/fd -> /proc/self/fd would walk the host, lib -> usr/lib would name paths debugfs
        // cannot find (issue 12, A1).
        foreach (string full in FileTree.EnumerateEntries(tree).Order(StringComparer.Ordinal))
        {
            Add("/" + Path.GetRelativePath(tree, full).Replace(Path.DirectorySeparatorChar, '/'), full, root: false);
        }

        await File.WriteAllTextAsync(script, lines.ToString(), cancellationToken).ConfigureAwait(false);
        try
        {
            string errors = await RunAsync("debugfs", ["-w", "-f", script, imagePath], environment, cancellationToken).ConfigureAwait(false);
            // debugfs exits 0 even when a request fails; its errors go to standard error after the version banner.
            string[] failures = [.. errors.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(l => !l.StartsWith("debugfs ", StringComparison.Ordinal))];
            if (failures.Length > 0)
            {
                throw new InvalidOperationException($"debugfs could not set times: {string.Join("; ", failures.Take(5))}");
            }
        }
        finally
        {
            File.Delete(script);
        }
    }

    // Grows the file (sparsely) to a multiple of the alignment.
    private static long Align(string imagePath, int alignment)
    {
        using var handle = File.OpenHandle(imagePath, FileMode.Open, FileAccess.ReadWrite);
        long length = RandomAccess.GetLength(handle);
        long aligned = Math.Max(alignment, (length + alignment - 1) / alignment * alignment);
        if (aligned != length)
        {
            RandomAccess.SetLength(handle, aligned);
        }

        return aligned;
    }

    // Bytes the tree's data and directories take in 4 KiB blocks, and its entries (hardlinks counted per name).
    private static (long Bytes, long Entries) Measure(string tree)
    {
        long bytes = 4096, entries = 1;
        foreach (FileSystemInfo info in FileTree.EnumerateInfos(tree))
        {
            entries++;
            // A sparse file needs only its allocated blocks (a large sparse file must not make a huge disk).
            long length = info is FileInfo file && info.LinkTarget is null ? Math.Min(file.Length, LibC.Lstat(file.FullName).Blocks * 512) : 0;
            // Every inode may need a block of its own for a directory, a long symlink target or xattrs.
            bytes += ((length + 4095) / 4096 * 4096) + 4096;
        }

        return (bytes, entries);
    }

    /// <summary>A UUID (version 4 layout) derived from the sha256 of <paramref name="seed"/>.</summary>
    internal static string DeriveUuid(string seed)
    {
        byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes(seed));
        hash[6] = (byte)((hash[6] & 0x0F) | 0x40);
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        string hex = Convert.ToHexStringLower(hash.AsSpan(0, 16));
        return $"{hex[..8]}-{hex[8..12]}-{hex[12..16]}-{hex[16..20]}-{hex[20..32]}";
    }

    // Runs a tool; returns its standard error (throws with it when the tool fails).
    private static async Task<string> RunAsync(string tool, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(tool)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        using var process = new Process { StartInfo = start };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException($"Cannot start {tool}: {ex.Message} (install e2fsprogs / erofs-utils: scripts/install-deps.sh).", ex);
        }

        Task<string> output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        Task<string> error = process.StandardError.ReadToEndAsync(cancellationToken);
        try
        {
            await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        string stdout = await output.ConfigureAwait(false), stderr = await error.ConfigureAwait(false);
        if (process.ExitCode != 0)
        {
            string detail = (stderr.Trim() + " " + stdout.Trim()).Trim();
            throw new InvalidOperationException($"{tool} failed (exit {process.ExitCode}): {(detail.Length > 2000 ? detail[..2000] : detail)}");
        }

        return stderr;
    }
}
