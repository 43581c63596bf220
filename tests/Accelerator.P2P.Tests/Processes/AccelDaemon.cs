using System.Text.RegularExpressions;
using Accelerator.Testing.Processes;

namespace Accelerator.P2P.Tests.Processes;

/// <summary>
/// A P2P scheduler or peer in an <c>accel</c> child process (<see cref="AccelProcess"/>), with the URLs from its ready
/// line, so a test can kill it like a crash. Disposing kills it if it still runs.
/// </summary>
internal sealed partial class AccelDaemon : IAsyncDisposable
{
    private readonly AccelProcess _process;

    private AccelDaemon(AccelProcess process) => _process = process;

    /// <summary>The piece API URL from a peer's ready line, or the scheduler's URL from its ready line.</summary>
    public Uri Url { get; private set; } = null!;

    /// <summary>The registry-mirror proxy URL from a peer's ready line, when it serves one.</summary>
    public Uri? ProxyUrl { get; private set; }

    /// <summary>Starts a scheduler on a free loopback port and waits until it is ready.</summary>
    public static Task<AccelDaemon> StartSchedulerAsync(params string[] extra)
        => StartAsync(["p2p", "scheduler", "--listen", "http://127.0.0.1:0", "--plain-http", .. extra]);

    /// <summary>Starts a peer with a proxy, both on free loopback ports, and waits until it is ready.</summary>
    public static Task<AccelDaemon> StartPeerAsync(string dataDirectory, string[] schedulers, params string[] extra)
        => StartAsync(["p2p", "peer", "--scheduler", string.Join(',', schedulers), "--listen", "http://127.0.0.1:0", "--proxy", "http://127.0.0.1:0", "--data-dir", dataDirectory, "--plain-http", .. extra]);

    /// <summary>Standard error so far.</summary>
    public string Error => _process.Error;

    /// <summary>Kills the process at once (SIGKILL), as a crash would stop it.</summary>
    public Task KillAsync() => _process.KillAsync();

    public ValueTask DisposeAsync() => _process.DisposeAsync();

    private static async Task<AccelDaemon> StartAsync(string[] args)
    {
        var daemon = new AccelDaemon(AccelProcess.Start(args));
        Match? ready = null;
        await daemon._process.WaitUntilAsync(() => (ready = ReadyLine().Match(daemon._process.Output)).Success, TimeSpan.FromSeconds(60), "get ready");
        daemon.Url = new Uri(ready!.Groups["url"].Value);
        daemon.ProxyUrl = ready.Groups["proxy"].Success ? new Uri(ready.Groups["proxy"].Value) : null;
        return daemon;
    }

    [GeneratedRegex(@"listening on (?<url>http://[^ )]+/)(?: \(registry mirror: (?<proxy>http://[^ )]+/)\))?")]
    private static partial Regex ReadyLine();
}
