using System.Diagnostics;
using System.Globalization;

namespace Accelerator.Testing.Host;

/// <summary>
/// A small tmpfs mounted for one test, to run out of space (ENOSPC) on purpose and then grow it (remount) for the
/// retry. Needs root; unmounted and removed on dispose.
/// </summary>
public sealed class SmallTmpfs : IDisposable
{
    private SmallTmpfs(string path) => Path = path;

    /// <summary>The mount point.</summary>
    public string Path { get; }

    /// <summary>Mounts a tmpfs of <paramref name="bytes"/> bytes on a new temporary directory.</summary>
    public static SmallTmpfs Mount(long bytes)
    {
        string path = Directory.CreateTempSubdirectory("accel-tmpfs-").FullName;
        Run("mount", "-t", "tmpfs", "-o", $"size={bytes.ToString(CultureInfo.InvariantCulture)},mode=0755", "tmpfs", path);
        return new SmallTmpfs(path);
    }

    /// <summary>Changes the size limit (what is stored stays).</summary>
    public void Resize(long bytes) =>
        Run("mount", "-o", $"remount,size={bytes.ToString(CultureInfo.InvariantCulture)}", Path);

    /// <summary>Every file and directory under the mount, relative, sorted.</summary>
    public IReadOnlyList<string> Entries() =>
        Directory.EnumerateFileSystemEntries(Path, "*", SearchOption.AllDirectories)
            .Select(e => System.IO.Path.GetRelativePath(Path, e))
            .Order(StringComparer.Ordinal)
            .ToList();

    public void Dispose()
    {
        Run("umount", "-l", Path);
        Directory.Delete(Path, recursive: true);
    }

    private static void Run(string program, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(program, arguments) { RedirectStandardError = true, UseShellExecute = false })
            ?? throw new InvalidOperationException($"{program} did not start.");
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} failed ({process.ExitCode}): {error}");
        }
    }
}
