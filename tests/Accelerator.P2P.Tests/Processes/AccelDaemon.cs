using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace Accelerator.P2P.Tests.Processes;

/// <summary>
/// The built <c>accel</c> running as a child process (a P2P scheduler or peer), so a test can kill it like a crash.
/// Disposing kills it if it still runs.
/// </summary>
internal sealed partial class AccelDaemon : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _out = new();
    private readonly StringBuilder _error = new();

    private AccelDaemon(Process process) => _process = process;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public int Id => _process.Id;

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

    /// <summary>The piece API URL from a peer's ready line, or the scheduler's URL from its ready line.</summary>
    public Uri Url { get; private set; } = null!;

    /// <summary>The registry-mirror proxy URL from a peer's ready line, when it serves one.</summary>
    public Uri? ProxyUrl { get; private set; }

    public static AccelDaemon Start(params string[] args)
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
        var daemon = new AccelDaemon(process);
        process.OutputDataReceived += (_, e) => Append(daemon._out, e.Data);
        process.ErrorDataReceived += (_, e) => Append(daemon._error, e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return daemon;
    }

    /// <summary>Starts a scheduler on a free loopback port and waits until it is ready.</summary>
    public static async Task<AccelDaemon> StartSchedulerAsync(params string[] extra)
    {
        var daemon = Start(["p2p", "scheduler", "--listen", "http://127.0.0.1:0", "--plain-http", .. extra]);
        await daemon.WaitReadyAsync(TimeSpan.FromSeconds(60));
        return daemon;
    }

    /// <summary>Starts a peer with a proxy, both on free loopback ports, and waits until it is ready.</summary>
    public static async Task<AccelDaemon> StartPeerAsync(string dataDirectory, string[] schedulers, params string[] extra)
    {
        var daemon = Start(["p2p", "peer", "--scheduler", string.Join(',', schedulers), "--listen", "http://127.0.0.1:0", "--proxy", "http://127.0.0.1:0", "--data-dir", dataDirectory, "--plain-http", .. extra]);
        await daemon.WaitReadyAsync(TimeSpan.FromSeconds(60));
        return daemon;
    }

    /// <summary>Waits for the ready line and reads the URLs from it.</summary>
    public async Task WaitReadyAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var match = ReadyLine().Match(Output);
            if (match.Success)
            {
                Url = new Uri(match.Groups["url"].Value);
                ProxyUrl = match.Groups["proxy"].Success ? new Uri(match.Groups["proxy"].Value) : null;
                return;
            }

            Assert.False(_process.HasExited, $"accel exited with {(_process.HasExited ? _process.ExitCode : 0)}: {Error}");
            Assert.True(DateTime.UtcNow < deadline, $"accel was not ready within {timeout}: {Output} {Error}");
            await Task.Delay(25);
        }
    }

    /// <summary>SIGTERM, then waits for a clean exit.</summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!)
        {
            await kill.WaitForExitAsync();
        }

        using var cancel = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cancel.Token);
        _process.WaitForExit();
    }

    /// <summary>Kills the process at once (SIGKILL), as a crash would stop it.</summary>
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

    [GeneratedRegex(@"listening on (?<url>http://[^ )]+/)(?: \(registry mirror: (?<proxy>http://[^ )]+/)\))?")]
    private static partial Regex ReadyLine();
}
