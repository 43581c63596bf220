using Accelerator.Testing.Tar;

namespace Accelerator.Testing.Trees;

/// <summary>
/// A small image tree holding the symbolic links real images carry and a tree walk must never follow: an absolute
/// link into the host's <c>/proc</c> (<c>dev/fd</c>, as docker images have it), usrmerge's <c>lib -&gt; usr/lib</c>, an
/// alternatives chain through <c>/etc/alternatives</c> (the path that made debugfs fail, issue 12 A1), relative links
/// that climb out of the tree with <c>..</c>, and an absolute link to a directory outside the tree holding
/// <see cref="OutsideFileSize"/> bytes (a walk that follows it counts or copies them).
/// </summary>
public static class DangerousLinks
{
    /// <summary>The size of the file in the outside directory.</summary>
    public const int OutsideFileSize = 8 << 20;

    /// <summary>The regular files of the tree (path, content).</summary>
    public static IReadOnlyList<(string Path, string Content)> Files { get; } =
    [
        ("usr/lib/x86_64-linux-gnu/fpc/3.2.2/fpmkinst/x86_64-linux/fpmkunit.ppu", "unit\n"),
        ("usr/lib/os-release", "ID=debian\n"),
        ("etc/hostname", "corpus\n"),
    ];

    /// <summary>
    /// The links of the tree (path, target); only one climbs out with <c>..</c>, so that a walk that follows links ends
    /// (at the kernel's limit of 40 links in a path) instead of branching at every level. The target <see cref="OutsidePlaceholder"/> stands for the outside
    /// directory's absolute path.
    /// </summary>
    public static IReadOnlyList<(string Path, string Target)> Links { get; } =
    [
        ("dev/fd", "/proc/self/fd"),
        ("lib", "usr/lib"),
        ("usr/lib/x86_64-linux-gnu/fpc/default", "/etc/alternatives/fp-utils"),
        ("etc/alternatives/fp-utils", "/usr/lib/x86_64-linux-gnu/fpc/3.2.2"),
        ("etc/alternatives/fp-utils-relative", "../../usr/lib/x86_64-linux-gnu/fpc/3.2.2"),
        ("usr/share/escape", "../../.."),
        ("opt/outside", OutsidePlaceholder),
    ];

    /// <summary>Stands for the outside directory in <see cref="Links"/>.</summary>
    public const string OutsidePlaceholder = "<outside>";

    /// <summary>Every path of the tree (directories, files and links), relative, without <c>.</c>.</summary>
    public static IReadOnlySet<string> Paths { get; } = ComputePaths();

    /// <summary>
    /// Creates the outside directory <paramref name="outsideDirectory"/> with its <see cref="OutsideFileSize"/>-byte file
    /// (written, not sparse).
    /// </summary>
    public static void CreateOutside(string outsideDirectory)
    {
        Directory.CreateDirectory(outsideDirectory);
        File.WriteAllBytes(Path.Combine(outsideDirectory, "big"), new byte[OutsideFileSize].Select((_, i) => (byte)(i * 31)).ToArray());
    }

    /// <summary>Stages the tree under <paramref name="root"/> (created), its outside link pointing at <paramref name="outsideDirectory"/>.</summary>
    public static void Stage(string root, string outsideDirectory)
    {
        Directory.CreateDirectory(root);
        foreach (var (path, content) in Files)
        {
            string full = Path.Combine(root, path);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            File.WriteAllText(full, content);
        }

        foreach (var (path, target) in Links)
        {
            string full = Path.Combine(root, path);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            File.CreateSymbolicLink(full, target == OutsidePlaceholder ? outsideDirectory : target);
        }
    }

    /// <summary>Adds the tree's entries to a layer tar, its outside link pointing at <paramref name="outsideDirectory"/>.</summary>
    public static TarBuilder AddTo(TarBuilder tar, string outsideDirectory)
    {
        foreach (string directory in Paths.Where(p => !Files.Any(f => f.Path == p) && !Links.Any(l => l.Path == p)).Order(StringComparer.Ordinal))
        {
            tar.AddDirectory(directory);
        }

        foreach (var (path, content) in Files)
        {
            tar.AddFile(path, content);
        }

        foreach (var (path, target) in Links)
        {
            tar.AddSymlink(path, target == OutsidePlaceholder ? outsideDirectory : target);
        }

        return tar;
    }

    private static HashSet<string> ComputePaths()
    {
        var paths = new HashSet<string>(StringComparer.Ordinal);
        foreach (string path in Files.Select(f => f.Path).Concat(Links.Select(l => l.Path)))
        {
            paths.Add(path);
            for (string? parent = Path.GetDirectoryName(path); !string.IsNullOrEmpty(parent); parent = Path.GetDirectoryName(parent))
            {
                paths.Add(parent);
            }
        }

        return paths;
    }
}
