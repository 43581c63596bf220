using System.Diagnostics;
using System.Globalization;
using System.Text;
using Xunit;

namespace Accelerator.Testing.Processes;

/// <summary>
/// The built <c>accel</c> (<c>accel.dll</c> beside the test assembly) running as a child process, with its output
/// collected, so a test can signal it or kill it like a crash. It sees no docker <c>config.json</c> of the machine and
/// an empty standard input. Disposing kills it if it still runs.
/// </summary>
public sealed class AccelProcess : IAsyncDisposable
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(1);
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly StringBuilder _error = new();

    private AccelProcess(Process process) => _process = process;

    /// <summary>The exit code, once it exited.</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>Whether it exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>The process id.</summary>
    public int Id => _process.Id;

    /// <summary>Standard output so far.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Standard error so far.</summary>
    public string Error
    {
        get
        {
            lock (_error)
            {
                return _error.ToString();
            }
        }
    }

    /// <summary>Starts <c>accel ARGS</c>.</summary>
    public static AccelProcess Start(params string[] args) => StartBuild(AppContext.BaseDirectory, args);

    /// <summary>
    /// Starts <c>accel ARGS</c> from the build in <paramref name="directory"/> (its <c>accel.dll</c>): another build of
    /// the program, e.g. a copy of this one, as an upgrade would install it.
    /// </summary>
    public static AccelProcess StartBuild(string directory, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(directory, "accel.dll"));
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["DOCKER_CONFIG"] = "/nonexistent/accelerator-test";
        var process = new Process { StartInfo = start };
        var accel = new AccelProcess(process);
        process.OutputDataReceived += (_, e) => Append(accel._output, e.Data);
        process.ErrorDataReceived += (_, e) => Append(accel._error, e.Data);
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return accel;
    }

    /// <summary>Runs <c>accel ARGS</c> to the end (at most 2 minutes).</summary>
    public static async Task<(int ExitCode, string Out, string Error)> RunAsync(params string[] args)
    {
        await using var accel = Start(args);
        await accel.WaitForExitAsync(TimeSpan.FromMinutes(2));
        return (accel.ExitCode, accel.Output, accel.Error);
    }

    /// <summary>Waits (default: a minute) for it to exit and for its output to be read to the end; returns the exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan? timeout = null)
    {
        using var cancel = new CancellationTokenSource(timeout ?? DefaultTimeout);
        await _process.WaitForExitAsync(cancel.Token);
        // The output callbacks end with a null line once the streams close.
        _process.WaitForExit();
        return _process.ExitCode;
    }

    /// <summary>Waits until the output holds <paramref name="text"/> (or the process exits, which fails).</summary>
    public Task WaitForOutputAsync(string text, TimeSpan timeout)
        => WaitUntilAsync(() => Output.Contains(text, StringComparison.Ordinal), timeout, $"print '{text}'");

    /// <summary>Waits (default: a minute) until <paramref name="condition"/> holds; fails with the output if it exits first.</summary>
    public async Task WaitUntilAsync(Func<bool> condition, TimeSpan? timeout = null, string what = "get ready")
    {
        var limit = timeout ?? DefaultTimeout;
        var deadline = DateTime.UtcNow + limit;
        while (!condition())
        {
            Assert.False(_process.HasExited, $"accel exited with {(_process.HasExited ? _process.ExitCode : 0)}: {Error}{Output}");
            Assert.True(DateTime.UtcNow < deadline, $"accel did not {what} within {limit}: {Output} {Error}");
            await Task.Delay(25);
        }
    }

    /// <summary>Sends SIGTERM and waits (default: a minute) for it to exit; returns the exit code.</summary>
    public async Task<int> TerminateAsync(TimeSpan? timeout = null)
    {
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)])!)
        {
            await kill.WaitForExitAsync();
        }

        return await WaitForExitAsync(timeout);
    }

    /// <summary>Kills the process tree at once (SIGKILL), as a crash or power loss would stop it.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        await _process.WaitForExitAsync();
    }

    /// <summary>Kills it if it still runs.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await KillAsync();
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
    }

    private static void Append(StringBuilder builder, string? line)
    {
        if (line is not null)
        {
            lock (builder)
            {
                builder.AppendLine(line);
            }
        }
    }
}
