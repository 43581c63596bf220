using System.Diagnostics;
using Accelerator.TestSupport;

namespace Accelerator.IntegrationTests.Cli;

/// <summary>Runs <c>accel</c> in-process with captured output, or as a real process.</summary>
internal static class CliRunner
{
    public static Task<(int ExitCode, string Out, string Error)> RunAsync(params string[] args) => AccelInProcess.RunAsync(args);

    /// <summary>Runs the built <c>accel</c> assembly in a child process with redirected output.</summary>
    public static Task<(int ExitCode, string Out, string Error)> RunProcessAsync(params string[] args) => RunProcessAsync([], args);

    /// <summary>
    /// Runs the built <c>accel</c> assembly in a child process with redirected output, behind <paramref name="wrapper"/>
    /// (a command that runs the rest of its command line, e.g. <c>setpriv --reuid=nobody … env</c>), if any.
    /// </summary>
    public static async Task<(int ExitCode, string Out, string Error)> RunProcessAsync(string[] wrapper, params string[] args)
    {
        string[] command = [.. wrapper, "dotnet", Path.Combine(AppContext.BaseDirectory, "accel.dll"), .. args];
        var start = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string part in command.Skip(1))
        {
            start.ArgumentList.Add(part);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }
}
