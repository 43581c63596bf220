using System.Runtime.InteropServices;

namespace Accelerator.Lazy.Mounting;

/// <summary>mount(2) and umount2(2) for the overlay a writable lazy mount puts over its FUSE tree.</summary>
internal static partial class MountSystemCalls
{
    private const int EINVAL = 22;
    private const int EBUSY = 16;
    private const int ENOENT = 2;
    private const int MNT_DETACH = 2;
    private const int UMOUNT_NOFOLLOW = 8;

    [LibraryImport("libc", EntryPoint = "mount", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MountNative(string source, string target, string fileSystemType, ulong flags, string? data);

    [LibraryImport("libc", EntryPoint = "umount2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Umount2Native(string target, int flags);

    /// <summary>Mounts an overlay of <paramref name="lower"/> (read-only) under <paramref name="upper"/> at <paramref name="target"/>.</summary>
    /// <exception cref="IOException">mount(2) failed.</exception>
    public static void MountOverlay(string lower, string upper, string work, string target)
    {
        foreach (string path in new[] { lower, upper, work })
        {
            // overlayfs splits its options at ',' and ':'; such paths cannot be passed.
            if (path.AsSpan().IndexOfAny(",:\\") >= 0)
            {
                throw new IOException($"The overlay directory '{path}' contains ',', ':' or '\\', which overlayfs options cannot carry.");
            }
        }

        string options = $"lowerdir={lower},upperdir={upper},workdir={work}";
        if (MountNative("overlay", target, "overlay", 0, options) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"mounting an overlay at '{target}' failed: {Marshal.GetPInvokeErrorMessage(errno)}.", errno);
        }
    }

    /// <summary>Unmounts <paramref name="target"/>, detaching it lazily when busy.</summary>
    /// <returns>True when something was unmounted (outright or detached); false when nothing was mounted there.</returns>
    /// <exception cref="IOException">umount2(2) failed for another reason.</exception>
    public static bool Unmount(string target)
    {
        if (Umount2Native(target, UMOUNT_NOFOLLOW) == 0)
        {
            return true;
        }

        int errno = Marshal.GetLastPInvokeError();
        if (errno == EBUSY && Umount2Native(target, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
        {
            return true;
        }

        errno = errno == EBUSY ? Marshal.GetLastPInvokeError() : errno;
        if (errno is EINVAL or ENOENT)
        {
            return false;
        }

        throw new IOException($"umount2 of '{target}' failed: {Marshal.GetPInvokeErrorMessage(errno)}.", errno);
    }

    /// <summary>Whether <paramref name="path"/> is a mount point, from <c>/proc/self/mountinfo</c>.</summary>
    public static bool IsMountPoint(string path)
        => ContainsMountPoint(File.ReadLines("/proc/self/mountinfo"), Path.TrimEndingDirectorySeparator(Path.GetFullPath(path)));

    /// <summary>Whether the mountinfo <paramref name="lines"/> list <paramref name="fullPath"/> as a mount point; malformed lines are skipped.</summary>
    internal static bool ContainsMountPoint(IEnumerable<string> lines, string fullPath)
    {
        foreach (string line in lines)
        {
            // ID PARENT MAJ:MIN ROOT MOUNTPOINT ...; spaces, tabs, newlines and backslashes in paths are octal escapes.
            string[] fields = line.Split(' ', 6);
            if (fields.Length >= 5 && Unescape(fields[4]) == fullPath)
            {
                return true;
            }
        }

        return false;
    }

    internal static string Unescape(string field)
    {
        if (!field.Contains('\\', StringComparison.Ordinal))
        {
            return field;
        }

        var builder = new System.Text.StringBuilder(field.Length);
        for (int i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && i + 3 < field.Length
                && field[i + 1] is >= '0' and <= '7' && field[i + 2] is >= '0' and <= '7' && field[i + 3] is >= '0' and <= '7')
            {
                builder.Append((char)(((field[i + 1] - '0') * 64) + ((field[i + 2] - '0') * 8) + (field[i + 3] - '0')));
                i += 3;
            }
            else
            {
                builder.Append(field[i]);
            }
        }

        return builder.ToString();
    }
}
