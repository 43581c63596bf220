using System.Text;
using Accelerator.Oci.Layers;

namespace Accelerator.Snapshots.Interop;

/// <summary>Overlay and bind mounts for snapshot clones, and queries of <c>/proc/self/mountinfo</c>.</summary>
internal static class MountTable
{
    /// <summary>
    /// Mounts an overlay at <paramref name="target"/>: <paramref name="lowers"/> topmost first; with
    /// <paramref name="upper"/> and <paramref name="work"/> writable, else read-only. Any number of layers up to
    /// overlayfs's stack limit (see <see cref="OverlayMount"/>).
    /// </summary>
    public static void MountOverlay(IReadOnlyList<string> lowers, string? upper, string? work, string target)
        => OverlayMount.Mount(lowers, upper, work, target);

    /// <summary>Bind-mounts <paramref name="source"/> read-only at <paramref name="target"/>.</summary>
    public static void BindReadOnly(string source, string target)
    {
        if (LibC.Mount(source, target, null, LibC.MS_BIND, null) != 0)
        {
            throw LibC.Error("bind mount at", target);
        }

        if (LibC.Mount(source, target, null, LibC.MS_BIND | LibC.MS_REMOUNT | LibC.MS_RDONLY, null) != 0)
        {
            var error = LibC.Error("read-only remount of", target);
            Unmount(target);
            throw error;
        }
    }

    /// <summary>Unmounts <paramref name="target"/>, detaching it when busy; false when nothing was mounted there.</summary>
    public static bool Unmount(string target) => OverlayMount.Unmount(target);

    /// <summary>The mounts of this mount namespace: mount point and super options (where <c>upperdir=</c> is).</summary>
    public static List<(string MountPoint, string Options)> Read() => Parse(File.ReadLines("/proc/self/mountinfo"));

    /// <summary>Parses mountinfo lines; malformed lines are skipped.</summary>
    internal static List<(string MountPoint, string Options)> Parse(IEnumerable<string> lines)
    {
        var mounts = new List<(string, string)>();
        foreach (string line in lines)
        {
            // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS (proc(5)).
            string[] fields = line.Split(' ');
            int separator = Array.IndexOf(fields, "-");
            if (fields.Length < 5 || separator < 6 || separator + 3 >= fields.Length)
            {
                continue;
            }

            mounts.Add((Unescape(fields[4]), Unescape(fields[separator + 3])));
        }

        return mounts;
    }

    /// <summary>Whether an overlay uses <paramref name="upper"/> as its upper directory.</summary>
    public static bool IsUpperInUse(List<(string MountPoint, string Options)> mounts, string upper)
        => mounts.Any(m => m.Options.Split(',').Contains("upperdir=" + upper, StringComparer.Ordinal));

    /// <summary>Mount points at or under <paramref name="directory"/>, deepest first.</summary>
    public static IEnumerable<string> MountsUnder(List<(string MountPoint, string Options)> mounts, string directory)
        => mounts.Select(m => m.MountPoint)
            .Where(p => p == directory || p.StartsWith(directory + "/", StringComparison.Ordinal))
            .OrderByDescending(p => p.Length);

    /// <summary>Whether <paramref name="path"/> is a mount point.</summary>
    public static bool IsMountPoint(string path) => Read().Any(m => m.MountPoint == path);

    private static string Unescape(string field)
    {
        if (!field.Contains('\\', StringComparison.Ordinal))
        {
            return field;
        }

        var builder = new StringBuilder(field.Length);
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
