using System.Globalization;
using System.Text;

namespace Accelerator.Linux;

/// <summary>One line of <c>/proc/self/mountinfo</c> (proc(5)), its paths unescaped.</summary>
/// <param name="Id">The mount's ID.</param>
/// <param name="ParentId">The parent mount's ID.</param>
/// <param name="Major">Major number of the mount's device (<c>st_dev</c>).</param>
/// <param name="Minor">Minor number of the mount's device; for FUSE, the connection number.</param>
/// <param name="Root">The directory of the file system that is the mount's root.</param>
/// <param name="MountPoint">Where it is mounted.</param>
/// <param name="FileSystemType">The file system type, e.g. <c>overlay</c>, <c>fuse.accel</c>.</param>
/// <param name="Source">The mount source (a device, or what the mounter chose).</param>
/// <param name="SuperOptions">The per-superblock options, e.g. an overlay's <c>lowerdir=…,upperdir=…</c>.</param>
public readonly record struct MountEntry(
    int Id, int ParentId, uint Major, uint Minor, string Root, string MountPoint, string FileSystemType, string Source, string SuperOptions);

/// <summary>
/// The mount table of this process's mount namespace, read from <c>/proc/self/mountinfo</c> (proc(5)): one parser for
/// every package that asks what is mounted where.
/// </summary>
/// <remarks>
/// A line is <c>ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL…] - FSTYPE SOURCE SUPEROPTIONS</c>; in paths and
/// options the kernel writes space, tab, newline and backslash as a backslash and three octal digits (fs/proc_namespace.c,
/// <c>mangle</c>). Malformed lines are skipped, never thrown on.
/// </remarks>
public static class MountTable
{
    /// <summary>The mount table of this process.</summary>
    public const string SelfPath = "/proc/self/mountinfo";

    /// <summary>The mounts of this process's mount namespace, in the kernel's order (a later mount over the same point comes later).</summary>
    public static IReadOnlyList<MountEntry> Read() => Parse(File.ReadLines(SelfPath));

    /// <summary>Parses mountinfo lines; malformed lines are skipped.</summary>
    public static IReadOnlyList<MountEntry> Parse(IEnumerable<string> lines)
    {
        ArgumentNullException.ThrowIfNull(lines);
        var mounts = new List<MountEntry>();
        foreach (string line in lines)
        {
            if (TryParseLine(line, out var entry))
            {
                mounts.Add(entry);
            }
        }

        return mounts;
    }

    /// <summary>Parses one mountinfo line.</summary>
    /// <returns>False for a malformed line.</returns>
    public static bool TryParseLine(string line, out MountEntry entry)
    {
        entry = default;
        if (string.IsNullOrEmpty(line))
        {
            return false;
        }

        // Six fields, the optional ones, "-" and three more: the separator is looked for after the mount options.
        string[] fields = line.Split(' ');
        int separator = fields.Length < 10 ? -1 : Array.IndexOf(fields, "-", 6);
        if (separator < 6 || separator + 3 >= fields.Length)
        {
            return false;
        }

        string[] device = fields[2].Split(':');
        if (!int.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out int id)
            || !int.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out int parent)
            || device.Length != 2
            || !uint.TryParse(device[0], NumberStyles.None, CultureInfo.InvariantCulture, out uint major)
            || !uint.TryParse(device[1], NumberStyles.None, CultureInfo.InvariantCulture, out uint minor))
        {
            return false;
        }

        entry = new MountEntry(
            id, parent, major, minor, Unescape(fields[3]), Unescape(fields[4]),
            Unescape(fields[separator + 1]), Unescape(fields[separator + 2]), Unescape(fields[separator + 3]));
        return true;
    }

    /// <summary>Whether <paramref name="path"/> (made absolute, without a trailing slash) is a mount point now.</summary>
    public static bool IsMountPoint(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        return Read().Any(m => m.MountPoint == full);
    }

    /// <summary>
    /// The most recent mount at <paramref name="mountPoint"/> (of <paramref name="fileSystemType"/> when given) in
    /// <paramref name="mounts"/>, or null.
    /// </summary>
    public static MountEntry? Find(IEnumerable<MountEntry> mounts, string mountPoint, string? fileSystemType = null)
    {
        ArgumentNullException.ThrowIfNull(mounts);
        MountEntry? found = null;
        foreach (var mount in mounts)
        {
            if (mount.MountPoint == mountPoint && (fileSystemType is null || mount.FileSystemType == fileSystemType))
            {
                found = mount;
            }
        }

        return found;
    }

    /// <summary>The mount points at or under <paramref name="directory"/> in <paramref name="mounts"/>, deepest first (the order to unmount them in).</summary>
    public static IReadOnlyList<string> MountPointsUnder(IEnumerable<MountEntry> mounts, string directory)
    {
        ArgumentNullException.ThrowIfNull(mounts);
        string prefix = directory.TrimEnd('/') + "/";
        return mounts.Select(m => m.MountPoint)
            .Where(p => p == directory || p.StartsWith(prefix, StringComparison.Ordinal))
            .OrderByDescending(p => p.Length)
            .ToList();
    }

    /// <summary>Whether an overlay in <paramref name="mounts"/> uses <paramref name="upper"/> as its upper directory.</summary>
    public static bool IsUpperInUse(IEnumerable<MountEntry> mounts, string upper)
    {
        ArgumentNullException.ThrowIfNull(mounts);
        return mounts.Any(m => m.SuperOptions.Split(',').Contains("upperdir=" + upper, StringComparer.Ordinal));
    }

    /// <summary>
    /// The directories an overlay in <paramref name="mount"/> is made of (its <c>lowerdir</c> list, <c>lowerdir+</c>,
    /// <c>datadir+</c>, <c>upperdir</c> and <c>workdir</c>, as overlayfs shows them); empty for another file system.
    /// </summary>
    public static IReadOnlyList<string> OverlayLayers(MountEntry mount)
    {
        if (mount.FileSystemType != "overlay")
        {
            return [];
        }

        var layers = new List<string>();
        foreach (string option in mount.SuperOptions.Split(','))
        {
            int equals = option.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                continue;
            }

            string value = option[(equals + 1)..];
            switch (option[..equals])
            {
                case "lowerdir":
                    // The classic option string: lower directories separated by ':' (a "::" marks data-only layers).
                    layers.AddRange(value.Split(':', StringSplitOptions.RemoveEmptyEntries));
                    break;
                case "lowerdir+" or "datadir+" or "upperdir" or "workdir":
                    layers.Add(value);
                    break;
            }
        }

        return layers;
    }

    /// <summary>Whether <paramref name="path"/> is <paramref name="directory"/> or lies under it (paths compared as text, both absolute).</summary>
    public static bool IsAtOrUnder(string path, string directory)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(directory);
        string trimmed = directory.Length > 1 ? directory.TrimEnd('/') : directory;
        return path == trimmed || path.StartsWith(trimmed == "/" ? "/" : trimmed + "/", StringComparison.Ordinal);
    }

    /// <summary>Undoes the kernel's octal escapes (<c>\040</c> for a space); other text, odd escapes included, is kept as it is.</summary>
    public static string Unescape(string field)
    {
        ArgumentNullException.ThrowIfNull(field);
        if (!field.Contains('\\', StringComparison.Ordinal))
        {
            return field;
        }

        // The escapes stand for bytes of the path, which is UTF-8 as a whole, so decode after unescaping.
        byte[] raw = Encoding.UTF8.GetBytes(field);
        var bytes = new List<byte>(raw.Length);
        for (int i = 0; i < raw.Length; i++)
        {
            if (raw[i] == '\\' && i + 3 < raw.Length && IsOctal(raw[i + 1]) && IsOctal(raw[i + 2]) && IsOctal(raw[i + 3]))
            {
                bytes.Add((byte)(((raw[i + 1] - '0') << 6) | ((raw[i + 2] - '0') << 3) | (raw[i + 3] - '0')));
                i += 3;
            }
            else
            {
                bytes.Add(raw[i]);
            }
        }

        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    private static bool IsOctal(byte b) => b is >= (byte)'0' and <= (byte)'7';
}
