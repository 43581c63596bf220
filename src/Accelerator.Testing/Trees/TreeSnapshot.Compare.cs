using System.Text;

namespace Accelerator.Testing.Trees;

public sealed partial class TreeSnapshot
{
    /// <summary>
    /// Compares two snapshots path by path and returns every difference, sorted by path (empty when the trees are
    /// equal in every compared field). Modification times are compared at the coarser precision of the two values
    /// (a value with no sub-second part is compared to the second). Hard links are compared as groups of paths.
    /// </summary>
    public static IReadOnlyList<TreeDifference> Compare(TreeSnapshot expected, TreeSnapshot actual, TreeCompareOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(actual);
        options ??= new TreeCompareOptions();
        var differences = new List<TreeDifference>();
        foreach (var (path, want) in expected._entries)
        {
            if (options.IgnorePath?.Invoke(path) == true)
            {
                continue;
            }

            if (!actual._entries.TryGetValue(path, out var got))
            {
                differences.Add(new TreeDifference(path, "presence", want.Type.ToString(), "missing"));
                continue;
            }

            CompareEntry(want, got, options, differences);
        }

        foreach (var (path, got) in actual._entries)
        {
            if (!expected._entries.ContainsKey(path) && options.IgnorePath?.Invoke(path) != true)
            {
                differences.Add(new TreeDifference(path, "presence", "missing", got.Type.ToString()));
            }
        }

        differences.Sort((a, b) => string.CompareOrdinal(a.Path, b.Path) is var c && c != 0 ? c : string.CompareOrdinal(a.Field, b.Field));
        return differences;
    }

    private static void CompareEntry(TreeEntry want, TreeEntry got, TreeCompareOptions options, List<TreeDifference> differences)
    {
        string path = want.Path;
        void Add(string field, object? e, object? a) => differences.Add(new TreeDifference(path, field, e?.ToString() ?? "(none)", a?.ToString() ?? "(none)"));
        bool Has(TreeFields field) => (options.Fields & field) != 0;

        if (want.Type != got.Type)
        {
            Add("type", want.Type, got.Type);
            return;
        }

        if (Has(TreeFields.Permissions) && want.Permissions != got.Permissions)
        {
            Add("mode", "0" + Convert.ToString(want.Permissions, 8), "0" + Convert.ToString(got.Permissions, 8));
        }

        if (Has(TreeFields.Owner) && (want.Uid != got.Uid || want.Gid != got.Gid))
        {
            Add("owner", $"{want.Uid}:{want.Gid}", $"{got.Uid}:{got.Gid}");
        }

        if (want.Type == TreeEntryType.RegularFile)
        {
            if (Has(TreeFields.Size) && want.Size != got.Size)
            {
                Add("size", want.Size, got.Size);
            }

            if (Has(TreeFields.Content) && want.Sha256 is not null && got.Sha256 is not null && want.Sha256 != got.Sha256)
            {
                Add("sha256", want.Sha256, got.Sha256);
            }

            if (Has(TreeFields.AllocatedSize) && want.AllocatedSize != got.AllocatedSize)
            {
                Add("allocated", want.AllocatedSize, got.AllocatedSize);
            }
        }

        if (Has(TreeFields.SymlinkTarget) && want.SymlinkTarget != got.SymlinkTarget)
        {
            Add("target", want.SymlinkTarget, got.SymlinkTarget);
        }

        if (Has(TreeFields.Device) && (want.DeviceMajor != got.DeviceMajor || want.DeviceMinor != got.DeviceMinor))
        {
            Add("device", $"{want.DeviceMajor},{want.DeviceMinor}", $"{got.DeviceMajor},{got.DeviceMinor}");
        }

        if (Has(TreeFields.Xattrs))
        {
            foreach (string name in want.Xattrs.Keys.Union(got.Xattrs.Keys).Order(StringComparer.Ordinal))
            {
                if (options.IgnoreXattr?.Invoke(name) == true)
                {
                    continue;
                }

                byte[]? e = want.Xattrs.GetValueOrDefault(name);
                byte[]? a = got.Xattrs.GetValueOrDefault(name);
                if (e is null || a is null || !e.AsSpan().SequenceEqual(a))
                {
                    Add("xattr " + name, FormatValue(e), FormatValue(a));
                }
            }
        }

        bool compareMtime = want.Type == TreeEntryType.Directory ? Has(TreeFields.DirectoryMtime) : Has(TreeFields.Mtime);
        if (compareMtime && !SameTime(want.MtimeNanoseconds, got.MtimeNanoseconds, options.MtimeGranularityNanoseconds))
        {
            Add("mtime", FormatTime(want.MtimeNanoseconds), FormatTime(got.MtimeNanoseconds));
        }

        if (Has(TreeFields.Hardlinks) && !want.HardlinkGroup.SequenceEqual(got.HardlinkGroup))
        {
            Add("hardlinks", FormatGroup(want), FormatGroup(got));
        }
    }

    private static bool SameTime(long expected, long actual, long? granularity)
    {
        long g = granularity ?? Math.Max(Granularity(expected), Granularity(actual));
        return expected == actual || Math.Floor((decimal)expected / g) == Math.Floor((decimal)actual / g);
    }

    // The precision a value evidently has: the largest power of ten, up to a second, that divides its sub-second part.
    private static long Granularity(long unixNanoseconds)
    {
        long nanos = ((unixNanoseconds % 1_000_000_000L) + 1_000_000_000L) % 1_000_000_000L;
        long g = 1;
        while (g < 1_000_000_000L && nanos % (g * 10) == 0)
        {
            g *= 10;
        }

        return g;
    }

    private static string FormatTime(long unixNanoseconds)
    {
        long seconds = Math.DivRem(unixNanoseconds, 1_000_000_000L, out long nanos);
        if (nanos < 0)
        {
            seconds--;
            nanos += 1_000_000_000L;
        }

        return DateTimeOffset.FromUnixTimeSeconds(seconds).ToString("yyyy-MM-ddTHH:mm:ss") + "." + nanos.ToString("D9") + "Z";
    }

    private static string FormatGroup(TreeEntry entry) => entry.HardlinkGroup.Count == 0 ? "[not linked]" : "[" + string.Join(", ", entry.HardlinkGroup) + "]";

    private static string FormatValue(byte[]? value)
    {
        if (value is null)
        {
            return "(none)";
        }

        bool printable = value.All(b => b is >= 0x20 and < 0x7f);
        return printable ? "\"" + Encoding.ASCII.GetString(value) + "\"" : "0x" + Convert.ToHexStringLower(value);
    }
}
