namespace Accelerator.Lazy.Mounting;

/// <summary>Mount-point queries of <c>/proc/self/mountinfo</c> (mounting and unmounting: <see cref="Accelerator.Oci.Layers.OverlayMount"/>).</summary>
internal static class MountSystemCalls
{
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
