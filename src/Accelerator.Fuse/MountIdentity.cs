using System.Globalization;
using System.Text;

namespace Accelerator.Fuse;

/// <summary>A mount's device number, read from <c>/proc/self/mountinfo</c> (proc(5)) without touching the mount itself.</summary>
internal readonly record struct MountIdentity(uint Major, uint Minor)
{
    /// <summary>The most recent mount of <paramref name="fileSystemType"/> at <paramref name="mountPoint"/>, or null.</summary>
    public static MountIdentity? Find(string mountPoint, string fileSystemType)
        => Parse(File.ReadAllLines("/proc/self/mountinfo"), mountPoint, fileSystemType);

    /// <summary>Whether anything is mounted at <paramref name="mountPoint"/> (the innermost mount decides nothing; any counts).</summary>
    public static bool IsMountPoint(string mountPoint)
        => File.ReadAllLines("/proc/self/mountinfo").Any(line => Fields(line) is { } f && f.MountPoint == mountPoint);

    /// <summary>Finds the last line for <paramref name="mountPoint"/> and <paramref name="fileSystemType"/> in mountinfo lines.</summary>
    internal static MountIdentity? Parse(IEnumerable<string> lines, string mountPoint, string fileSystemType)
    {
        MountIdentity? found = null;
        foreach (string line in lines)
        {
            if (Fields(line) is { } f && f.MountPoint == mountPoint && f.Type == fileSystemType)
            {
                found = new MountIdentity(f.Major, f.Minor);
            }
        }

        return found;
    }

    // "36 35 0:52 / /mnt/x ro,nosuid shared:1 - fuse.accel accel ro,user_id=0": ID, parent, major:minor, root, mount
    // point, options, optional fields up to "-", then type, source, super options. Spaces in paths are escaped as \040.
    private static (uint Major, uint Minor, string MountPoint, string Type)? Fields(string line)
    {
        string[] parts = line.Split(' ');
        int separator = Array.IndexOf(parts, "-");
        if (parts.Length < 7 || separator < 6 || separator + 1 >= parts.Length)
        {
            return null;
        }

        string[] device = parts[2].Split(':');
        if (device.Length != 2
            || !uint.TryParse(device[0], NumberStyles.None, CultureInfo.InvariantCulture, out uint major)
            || !uint.TryParse(device[1], NumberStyles.None, CultureInfo.InvariantCulture, out uint minor))
        {
            return null;
        }

        return (major, minor, Unescape(parts[4]), parts[separator + 1]);
    }

    // The kernel's seq_path escapes space, tab, newline and backslash as a backslash and three octal digits.
    private static string Unescape(string field)
    {
        if (!field.Contains('\\'))
        {
            return field;
        }

        var bytes = new List<byte>(field.Length);
        byte[] raw = Encoding.UTF8.GetBytes(field);
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

/// <summary>The FUSE control file system (<c>fusectl</c>, Documentation/filesystems/fuse.rst "Control filesystem").</summary>
internal static class FuseConnections
{
    internal const string Root = "/sys/fs/fuse/connections";

    /// <summary>Writes to the connection's <c>abort</c> file, mounting fusectl first when it is not mounted.</summary>
    public static void Abort(uint connectionId)
    {
        string abort = Path.Combine(Root, connectionId.ToString(CultureInfo.InvariantCulture), "abort");
        if (!File.Exists(abort))
        {
            if (!MountIdentity.IsMountPoint(Root))
            {
                int errno = Interop.LibC.Mount("fusectl", Root, "fusectl", 0, null);
                if (errno != 0 && errno != Interop.LibC.EBUSY)
                {
                    throw new IOException($"Cannot mount fusectl at {Root}: {Interop.LibC.Message(errno)}.", errno);
                }
            }

            if (!File.Exists(abort))
            {
                throw new IOException($"FUSE connection {connectionId} has no {abort} (already ended?).");
            }
        }

        File.WriteAllText(abort, "1");
    }
}
