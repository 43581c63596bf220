using System.Diagnostics;

namespace Accelerator.Testing.Host;

/// <summary>
/// Runs a command as an unprivileged local user (nobody, 65534, no supplementary groups) through util-linux's
/// <c>setpriv</c>: what another user on the host could do with our state directories and mounts.
/// </summary>
public static class UnprivilegedUser
{
    /// <summary>The uid and gid used (nobody / nogroup).</summary>
    public const int Id = 65534;

    /// <summary>Runs <paramref name="program"/> with <paramref name="arguments"/> as nobody; returns its exit code and stderr.</summary>
    public static async Task<(int ExitCode, string Error)> RunAsync(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo("setpriv") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in (string[])[$"--reuid={Id}", $"--regid={Id}", "--clear-groups", "--", program, .. arguments])
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("setpriv did not start.");
        var output = process.StandardOutput.ReadToEndAsync();
        string error = await process.StandardError.ReadToEndAsync().ConfigureAwait(false);
        await output.ConfigureAwait(false);
        await process.WaitForExitAsync().ConfigureAwait(false);
        return (process.ExitCode, error);
    }

    /// <summary>Whether nobody can read the file at <paramref name="path"/> (so, also, reach it).</summary>
    public static async Task<bool> CanReadAsync(string path) => (await RunAsync("cat", path).ConfigureAwait(false)).ExitCode == 0;

    /// <summary>
    /// A new temporary directory that every user may traverse (0755, like most of a host's directories), so that a
    /// test observes the modes of what it creates inside, not the 0700 of the usual test temp directory.
    /// </summary>
    public static string CreateTraversableDirectory(string prefix)
    {
        string directory = Directory.CreateTempSubdirectory(prefix).FullName;
        File.SetUnixFileMode(directory, (UnixFileMode)0x1ED);
        return directory;
    }
}
