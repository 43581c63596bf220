using System.Diagnostics;
using Accelerator.TestSupport;

namespace Accelerator.Snapshots.Tests.Support;

/// <summary>Runs <c>accel</c> in-process with captured output, or starts it as a real child process.</summary>
internal static class CliRunner
{
    public static Task<(int ExitCode, string Out, string Error)> RunAsync(params string[] args) => AccelInProcess.RunAsync(args);

    /// <summary>Starts the built <c>accel</c> assembly as a child process with redirected output.</summary>
    public static Process Start(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "accel.dll"));
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        return Process.Start(start)!;
    }
}
