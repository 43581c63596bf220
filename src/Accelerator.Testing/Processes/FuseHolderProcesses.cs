using System.Diagnostics;
using System.Globalization;

namespace Accelerator.Testing.Processes;

/// <summary>
/// The FUSE holders (<c>accel fuse-holder --directory DIR</c>) a test's daemons started. A daemon's stop leaves its
/// lazy and block mounts to its holder (that is the takeover); a test that is done with its daemon must stop the holder
/// too, or the holder keeps the connections — and itself — alive after the test.
/// </summary>
public static class FuseHolderProcesses
{
    /// <summary>
    /// Kills every holder whose directory is <paramref name="directory"/> or under it and waits for it to exit. Closing
    /// the last descriptor of a FUSE connection ends it: its mounts then answer ENOTCONN and unmount cleanly.
    /// </summary>
    /// <returns>How many holders were stopped.</returns>
    public static int StopUnder(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        string root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        int stopped = 0;
        foreach (string process in Directory.EnumerateDirectories("/proc").Where(p => int.TryParse(Path.GetFileName(p), out _)))
        {
            try
            {
                string[] arguments = File.ReadAllText(Path.Combine(process, "cmdline")).Split('\0');
                string? held = arguments.SkipWhile(a => a != "--directory").Skip(1).FirstOrDefault();
                if (!arguments.Contains("fuse-holder") || held is null)
                {
                    continue;
                }

                held = Path.TrimEndingDirectorySeparator(Path.GetFullPath(held));
                if (held == root || held.StartsWith(root + "/", StringComparison.Ordinal))
                {
                    using var holder = Process.GetProcessById(int.Parse(Path.GetFileName(process), CultureInfo.InvariantCulture));
                    holder.Kill();
                    holder.WaitForExit(TimeSpan.FromSeconds(10));
                    stopped++;
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException)
            {
                // The process ended meanwhile.
            }
        }

        return stopped;
    }
}
