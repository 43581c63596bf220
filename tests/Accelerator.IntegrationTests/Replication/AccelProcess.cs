using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Accelerator.IntegrationTests.Replication;

/// <summary>
/// The built <c>accel</c> running as a child process (so a test can kill it like a crash), with its output collected.
/// Disposing kills it if it still runs.
/// </summary>
internal sealed class AccelProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _out = new();
    private readonly StringBuilder _error = new();

    private AccelProcess(Process process) => _process = process;

    public int ExitCode => _process.ExitCode;

    public bool HasExited => _process.HasExited;

    public string Output
    {
        get
        {
            lock (_out)
            {
                return _out.ToString();
            }
        }
    }

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

    public static AccelProcess Start(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "accel.dll"));
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        // No docker config.json of the machine.
        start.Environment["DOCKER_CONFIG"] = "/nonexistent/accelerator-test";
        var process = new Process { StartInfo = start };
        var accel = new AccelProcess(process);
        process.OutputDataReceived += (_, e) => Append(accel._out, e.Data);
        process.ErrorDataReceived += (_, e) => Append(accel._error, e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return accel;
    }

    /// <summary>Runs accel to the end (at most 2 minutes).</summary>
    public static async Task<(int ExitCode, string Out, string Error)> RunAsync(params string[] args)
    {
        await using var accel = Start(args);
        await accel.WaitForExitAsync(TimeSpan.FromMinutes(2));
        return (accel.ExitCode, accel.Output, accel.Error);
    }

    public async Task WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cancel.Token);
        // The output callbacks end with a null line once the streams close.
        _process.WaitForExit();
    }

    /// <summary>Waits until the output holds <paramref name="text"/> (or the process exits, which fails).</summary>
    public async Task WaitForOutputAsync(string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!Output.Contains(text, StringComparison.Ordinal))
        {
            Assert.False(_process.HasExited, $"accel exited with {(_process.HasExited ? _process.ExitCode : 0)}: {Error}");
            Assert.True(DateTime.UtcNow < deadline, $"accel did not print '{text}' within {timeout}: {Output} {Error}");
            await Task.Delay(25);
        }
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

    /// <summary>A free TCP port on 127.0.0.1 (for a server a registry must be told about before it starts).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    /// <summary>Polls <paramref name="condition"/> every 50 ms for at most <paramref name="timeout"/>.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"{what}: not within {timeout.TotalSeconds:0} s");
            await Task.Delay(50);
        }
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
