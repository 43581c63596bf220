using Accelerator.TestSupport;

namespace Accelerator.Cli.Tests;

/// <summary>Runs <c>accel</c> in-process, non-interactive, with stdout and stderr captured.</summary>
internal static class Accel
{
    public static async Task<AccelRun> RunAsync(params string[] args)
    {
        var (code, output, error) = await AccelInProcess.RunAsync(args);
        return new AccelRun(code, output, error);
    }
}

/// <summary>What one <c>accel</c> run printed and returned.</summary>
internal sealed record AccelRun(int ExitCode, string Out, string Error)
{
    /// <summary>The lines written to stderr.</summary>
    public string[] ErrorLines => Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    public override string ToString() => $"exit {ExitCode}\nstdout:\n{Out}\nstderr:\n{Error}";
}
