using System.Diagnostics;

namespace Accelerator.Fuse.Tests.Support;

/// <summary>
/// Start information for a child process the tests send signals to. Dispositions are inherited across fork and exec,
/// and a test runner started as a background job of a shell without job control (<c>scripts/test.sh &amp;</c>)
/// ignores SIGINT — so would the child, and a SIGINT sent to it would do nothing. <c>env(1)</c> sets the dispositions
/// the test means before running the program.
/// </summary>
internal static class SignalledChild
{
    /// <summary>Runs <paramref name="program"/> with SIGINT and SIGTERM at their defaults (whatever this process ignores).</summary>
    internal static ProcessStartInfo WithDefaultSignals(string program, params IEnumerable<string> arguments)
        => Create("--default-signal=INT,TERM", program, arguments);

    /// <summary>Runs <paramref name="program"/> with SIGINT ignored, as a background job of a shell would.</summary>
    internal static ProcessStartInfo WithSigintIgnored(string program, params IEnumerable<string> arguments)
        => Create("--ignore-signal=INT", program, arguments);

    private static ProcessStartInfo Create(string disposition, string program, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo("env")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(disposition);
        start.ArgumentList.Add("--");
        start.ArgumentList.Add(program);
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return start;
    }
}
