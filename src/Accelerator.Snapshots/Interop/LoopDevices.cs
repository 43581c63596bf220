using System.Diagnostics;

namespace Accelerator.Snapshots.Interop;

/// <summary>Loop devices left attached by block clones whose process died (found by their backing file in sysfs).</summary>
internal static class LoopDevices
{
    private const string SysBlock = "/sys/block";

    /// <summary>The loop devices (<c>/dev/loopN</c>) whose backing file lies under <paramref name="directory"/>.</summary>
    public static IReadOnlyList<string> Under(string directory)
    {
        var found = new List<string>();
        if (!Directory.Exists(SysBlock))
        {
            return found;
        }

        string prefix = directory.TrimEnd('/') + "/";
        foreach (string device in Directory.EnumerateDirectories(SysBlock, "loop*"))
        {
            try
            {
                string backing = File.ReadAllText(Path.Combine(device, "loop", "backing_file")).Trim();
                if (backing.StartsWith(prefix, StringComparison.Ordinal))
                {
                    found.Add("/dev/" + Path.GetFileName(device));
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Not attached (no backing_file) or gone meanwhile.
            }
        }

        return found;
    }

    /// <summary>Detaches <paramref name="device"/> with <c>losetup --detach</c>; false when losetup failed.</summary>
    public static bool TryDetach(string device)
    {
        var start = new ProcessStartInfo("losetup") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("--detach");
        start.ArgumentList.Add(device);
        try
        {
            using var process = Process.Start(start);
            if (process is null)
            {
                return false;
            }

            process.StandardOutput.ReadToEnd();
            process.StandardError.ReadToEnd();
            return process.WaitForExit(30_000) && process.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}
