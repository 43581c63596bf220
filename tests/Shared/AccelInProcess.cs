using Accelerator.Cli;
using Accelerator.Cli.Console;

namespace Accelerator.TestSupport;

/// <summary>
/// Runs <c>accel</c> in-process (<see cref="AccelCommand"/>), non-interactive, with standard output and error captured.
/// Linked into each test project that runs the CLI (tests/Shared), since <see cref="AccelCommand"/> is internal to
/// them.
/// </summary>
internal static class AccelInProcess
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    /// <summary>Runs <c>accel ARGS</c>; a command still running after 2 minutes fails the test instead of blocking the run.</summary>
    public static async Task<(int ExitCode, string Out, string Error)> RunAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = await AccelCommand.RunAsync(args, new CliConsole(output, error, interactive: false)).WaitAsync(Timeout);
        return (code, output.ToString(), error.ToString());
    }
}
