using System.Text;

namespace Accelerator.Linux;

/// <summary>
/// Mounts overlayfs over unpacked layer directories (or any read-only trees) and unmounts it; any number of lower
/// directories up to the kernel's stack limit, paths with any characters.
/// </summary>
/// <remarks>
/// The new mount API is used first: <c>fsopen("overlay")</c>, one <c>fsconfig("lowerdir+", dir)</c> per lower
/// directory (Linux 6.8 and later), <c>upperdir</c>, <c>workdir</c>, <c>FSCONFIG_CMD_CREATE</c>, <c>fsmount</c> and
/// <c>move_mount</c>. Each path is passed whole, so there is no option string to outgrow and nothing to escape. On
/// kernels without <c>fsopen</c> or without <c>lowerdir+</c> the classic <c>mount(2)</c> option string is used,
/// which the kernel takes as one page: then the paths must fit in 4,095 bytes and must not contain ',', ':' or '\'.
/// </remarks>
public static partial class OverlayMount
{
    /// <summary>The most lower directories overlayfs stacks (<c>OVL_MAX_STACK</c> in fs/overlayfs/params.h).</summary>
    public const int MaxLowerDirectories = 500;

    // The kernel copies mount(2) data into one page, NUL included (copy_mount_options).
    internal const int MaxClassicOptionBytes = 4095;

    /// <summary>
    /// Mounts an overlay at <paramref name="target"/>: <paramref name="lowerDirectories"/> topmost first; with
    /// <paramref name="upperDirectory"/> and <paramref name="workDirectory"/> writable, without them read-only.
    /// </summary>
    /// <param name="lowerDirectories">The read-only layers, topmost first; 1 to <see cref="MaxLowerDirectories"/>.</param>
    /// <param name="upperDirectory">
    /// Where writes go, or null for a read-only overlay. An empty upper directory first takes the owner, mode and
    /// modification time of the topmost lower directory, so the merged root shows the image's root, not a new directory.
    /// </param>
    /// <param name="workDirectory">overlayfs's work directory on the upper's file system; given exactly when <paramref name="upperDirectory"/> is.</param>
    /// <param name="target">The mount point (an existing directory).</param>
    /// <exception cref="ArgumentException">No lower directory, too many, an empty path, or an upper without a work directory (or the reverse).</exception>
    /// <exception cref="IOException">The kernel refused the mount (the message names the step and the path), or, on a kernel without <c>lowerdir+</c>, the paths cannot be written as one option string.</exception>
    public static void Mount(IReadOnlyList<string> lowerDirectories, string? upperDirectory, string? workDirectory, string target)
    {
        ArgumentNullException.ThrowIfNull(lowerDirectories);
        ArgumentException.ThrowIfNullOrEmpty(target);
        if (lowerDirectories.Count is 0 or > MaxLowerDirectories)
        {
            throw new ArgumentException($"An overlay takes 1 to {MaxLowerDirectories} lower directories, not {lowerDirectories.Count}.", nameof(lowerDirectories));
        }

        if ((upperDirectory is null) != (workDirectory is null))
        {
            throw new ArgumentException("An upper directory needs a work directory and a work directory an upper one.", nameof(workDirectory));
        }

        foreach (string path in lowerDirectories.Append(upperDirectory ?? "/").Append(workDirectory ?? "/"))
        {
            if (string.IsNullOrEmpty(path) || path.Contains('\0', StringComparison.Ordinal))
            {
                throw new ArgumentException("Overlay directories must be non-empty paths without NUL characters.", nameof(lowerDirectories));
            }
        }

        if (upperDirectory is not null)
        {
            InheritRootAttributes(lowerDirectories[0], upperDirectory);
        }

        if (!TryMountWithFileSystemContext(lowerDirectories, upperDirectory, workDirectory, target))
        {
            MountClassic(lowerDirectories, upperDirectory, workDirectory, target);
        }
    }

    /// <summary>
    /// The <c>mount(2)</c> option string for an overlay, for kernels without <c>lowerdir+</c>.
    /// </summary>
    /// <exception cref="IOException">A path contains ',', ':' or '\', or the string would exceed one page.</exception>
    internal static string ClassicOptions(IReadOnlyList<string> lowerDirectories, string? upperDirectory, string? workDirectory)
    {
        foreach (string path in lowerDirectories.Append(upperDirectory ?? string.Empty).Append(workDirectory ?? string.Empty))
        {
            // The option string is split at ',' and lowerdir at ':', with '\' as the escape (overlayfs.rst).
            if (path.AsSpan().IndexOfAny(",:\\") >= 0)
            {
                throw new IOException(
                    $"The overlay directory '{path}' contains ',', ':' or '\\', which this kernel's overlay mount options cannot carry (Linux 6.8 or later passes paths whole).");
            }
        }

        var options = new StringBuilder("lowerdir=").AppendJoin(':', lowerDirectories);
        if (upperDirectory is not null)
        {
            options.Append(",upperdir=").Append(upperDirectory).Append(",workdir=").Append(workDirectory);
        }

        string text = options.ToString();
        int bytes = Encoding.UTF8.GetByteCount(text);
        if (bytes > MaxClassicOptionBytes)
        {
            throw new IOException(
                $"The overlay options for {lowerDirectories.Count} lower directories take {bytes} bytes, more than the {MaxClassicOptionBytes} this kernel's mount(2) accepts; "
                + "Linux 6.8 or later has no such limit, else use shorter directory paths or fewer layers.");
        }

        return text;
    }
}
