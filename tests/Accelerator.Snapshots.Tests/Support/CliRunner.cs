using System.Diagnostics;
using Accelerator.Cli;
using Accelerator.Cli.Console;

namespace Accelerator.Snapshots.Tests.Support;

/// <summary>Runs <c>accel</c> in-process with captured output, or starts it as a real child process.</summary>
internal static class CliRunner
{
    public static async Task<(int ExitCode, string Out, string Error)> RunAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        // A command that hangs fails the test instead of blocking the run.
        int code = await AccelCommand.RunAsync(args, new CliConsole(output, error, interactive: false)).WaitAsync(TimeSpan.FromMinutes(2));
        return (code, output.ToString(), error.ToString());
    }

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
