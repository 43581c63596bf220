using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Accelerator.Testing.Registry;

/// <summary>Token auth settings for <see cref="DockerRegistryProcess"/> (distribution's <c>auth: token</c>).</summary>
/// <param name="Realm">The token server URL the registry names in its challenges.</param>
/// <param name="Service">The service name (the token's audience).</param>
/// <param name="Issuer">The issuer the registry accepts.</param>
/// <param name="RootCertBundlePath">PEM certificates whose keys may sign tokens.</param>
public sealed record RegistryTokenAuth(Uri Realm, string Service, string Issuer, string RootCertBundlePath);

/// <summary>How to start a <see cref="DockerRegistryProcess"/>.</summary>
public sealed class DockerRegistryOptions
{
    /// <summary>Users for <c>auth: htpasswd</c> (bcrypt hashes made with apache2-utils' <c>htpasswd -B</c>); null for no htpasswd.</summary>
    public IDictionary<string, string>? HtpasswdUsers { get; set; }

    /// <summary>Token auth; null for none. Exclusive with <see cref="HtpasswdUsers"/>.</summary>
    public RegistryTokenAuth? TokenAuth { get; set; }

    /// <summary>Webhook endpoints for registry notifications.</summary>
    public IList<Uri> NotificationEndpoints { get; } = [];

    /// <summary>Headers the registry sends with every notification (its endpoints' <c>headers</c>), e.g. Authorization.</summary>
    public IDictionary<string, string> NotificationHeaders { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>The port to listen on; null picks a free one. Set it to bring a registry up where a client already points.</summary>
    public int? Port { get; set; }

    /// <summary>The loopback address to listen on.</summary>
    public string Address { get; set; } = "127.0.0.1";
}

/// <summary>
/// A real <c>docker-registry</c> (distribution 2.8, <c>/usr/bin/docker-registry</c>) on a free loopback port with
/// filesystem storage in a temporary directory and deletes enabled. Its output goes to <see cref="LogPath"/>.
/// Disposing stops the process tree and deletes the directory.
/// </summary>
public sealed class DockerRegistryProcess : IAsyncDisposable
{
    /// <summary>The registry binary.</summary>
    public const string Binary = "/usr/bin/docker-registry";

    private readonly LogSink _log;
    private Process _process;

    private DockerRegistryProcess(Process process, LogSink log, string root, string host)
    {
        _process = process;
        _log = log;
        RootDirectory = root;
        Host = host;
        Url = new Uri($"http://{host}/");
    }

    /// <summary>The registry host key, <c>127.0.0.1:PORT</c>.</summary>
    public string Host { get; }

    /// <summary>The base URL, <c>http://127.0.0.1:PORT/</c>.</summary>
    public Uri Url { get; }

    /// <summary>The temporary directory with the config, storage and log.</summary>
    public string RootDirectory { get; }

    /// <summary>The registry's storage root.</summary>
    public string StoragePath => Path.Combine(RootDirectory, "storage");

    /// <summary>The file with the registry's stdout and stderr.</summary>
    public string LogPath => Path.Combine(RootDirectory, "registry.log");

    /// <summary>The registry's output so far, for diagnostics.</summary>
    public string ReadLog()
    {
        _log.Flush();
        using var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        return new StreamReader(stream).ReadToEnd();
    }

    /// <summary>Starts a registry and waits until <c>/v2/</c> answers (at most 15 s).</summary>
    public static async Task<DockerRegistryProcess> StartAsync(DockerRegistryOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new DockerRegistryOptions();
        if (options.HtpasswdUsers is not null && options.TokenAuth is not null)
        {
            throw new ArgumentException("Choose htpasswd or token auth, not both.", nameof(options));
        }

        string root = Directory.CreateTempSubdirectory("accel-registry-").FullName;
        try
        {
            int port = options.Port ?? LoopbackPorts.Free(options.Address);
            string host = $"{options.Address}:{port}";
            string config = Path.Combine(root, "config.yml");
            await File.WriteAllTextAsync(config, await BuildConfigAsync(options, root, host, cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
            var log = new LogSink(Path.Combine(root, "registry.log"));
            var registry = new DockerRegistryProcess(StartProcess(config, log), log, root, host);
            try
            {
                await registry.WaitUntilReadyAsync(cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                await registry.DisposeAsync().ConfigureAwait(false);
                throw;
            }

            return registry;
        }
        catch
        {
            TryDelete(root);
            throw;
        }
    }

    /// <summary>Whether the registry process runs (false after <see cref="StopAsync"/> until <see cref="RestartAsync"/>).</summary>
    public bool IsRunning => !_process.HasExited;

    /// <summary>
    /// Stops the registry as an outage would (SIGKILL: connections are refused from then on), keeping its address,
    /// configuration and storage for <see cref="RestartAsync"/>.
    /// </summary>
    public async Task StopAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        await _process.WaitForExitAsync().ConfigureAwait(false);
    }

    /// <summary>Starts the registry stopped by <see cref="StopAsync"/> again, on the same address with the same storage, and waits until <c>/v2/</c> answers.</summary>
    public async Task RestartAsync(CancellationToken cancellationToken = default)
    {
        if (!_process.HasExited)
        {
            throw new InvalidOperationException("The registry is running; stop it first.");
        }

        _process.Dispose();
        _process = StartProcess(Path.Combine(RootDirectory, "config.yml"), _log);
        await WaitUntilReadyAsync(cancellationToken).ConfigureAwait(false);
    }

    private static Process StartProcess(string config, LogSink log)
    {
        var info = new ProcessStartInfo(Binary)
        {
            ArgumentList = { "serve", config },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var process = new Process { StartInfo = info };
        DataReceivedEventHandler write = (_, e) =>
        {
            if (e.Data is not null)
            {
                log.WriteLine(e.Data);
            }
        };
        process.OutputDataReceived += write;
        process.ErrorDataReceived += write;
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private async Task WaitUntilReadyAsync(CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"docker-registry exited with {_process.ExitCode}: {ReadLog()}");
            }

            try
            {
                using var response = await http.GetAsync(new Uri(Url, "v2/"), cancellationToken).ConfigureAwait(false);
                if (response.StatusCode is HttpStatusCode.OK or HttpStatusCode.Unauthorized)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"docker-registry did not answer on {Url}: {ReadLog()}");
            }

            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<string> BuildConfigAsync(DockerRegistryOptions options, string root, string host, CancellationToken cancellationToken)
    {
        string storage = Path.Combine(root, "storage");
        Directory.CreateDirectory(storage);
        var yaml = new StringBuilder();
        yaml.AppendLine("version: 0.1");
        yaml.AppendLine("log:");
        yaml.AppendLine("  level: info");
        yaml.AppendLine("storage:");
        yaml.AppendLine("  filesystem:");
        yaml.AppendLine($"    rootdirectory: {Quote(storage)}");
        yaml.AppendLine("  delete:");
        yaml.AppendLine("    enabled: true");
        yaml.AppendLine("  maintenance:");
        yaml.AppendLine("    uploadpurging:");
        yaml.AppendLine("      enabled: false");
        yaml.AppendLine("http:");
        yaml.AppendLine($"  addr: {host}");
        yaml.AppendLine($"  secret: {Guid.NewGuid():N}");
        if (options.HtpasswdUsers is { } users)
        {
            string path = Path.Combine(root, "htpasswd");
            var lines = new StringBuilder();
            foreach (var (user, password) in users)
            {
                lines.AppendLine(await HtpasswdLineAsync(user, password, cancellationToken).ConfigureAwait(false));
            }

            await File.WriteAllTextAsync(path, lines.ToString(), cancellationToken).ConfigureAwait(false);
            yaml.AppendLine("auth:");
            yaml.AppendLine("  htpasswd:");
            yaml.AppendLine("    realm: accelerator-test");
            yaml.AppendLine($"    path: {Quote(path)}");
        }
        else if (options.TokenAuth is { } token)
        {
            yaml.AppendLine("auth:");
            yaml.AppendLine("  token:");
            yaml.AppendLine($"    realm: {Quote(token.Realm.ToString())}");
            yaml.AppendLine($"    service: {Quote(token.Service)}");
            yaml.AppendLine($"    issuer: {Quote(token.Issuer)}");
            yaml.AppendLine($"    rootcertbundle: {Quote(token.RootCertBundlePath)}");
        }

        if (options.NotificationEndpoints.Count > 0)
        {
            yaml.AppendLine("notifications:");
            yaml.AppendLine("  endpoints:");
            int i = 0;
            foreach (var endpoint in options.NotificationEndpoints)
            {
                yaml.AppendLine($"    - name: endpoint{i++}");
                yaml.AppendLine($"      url: {Quote(endpoint.ToString())}");
                if (options.NotificationHeaders.Count > 0)
                {
                    yaml.AppendLine("      headers:");
                    foreach (var (name, value) in options.NotificationHeaders)
                    {
                        yaml.AppendLine($"        {Quote(name)}: [{Quote(value)}]");
                    }
                }

                yaml.AppendLine("      timeout: 2s");
                yaml.AppendLine("      threshold: 5");
                yaml.AppendLine("      backoff: 1s");
            }
        }

        return yaml.ToString();
    }

    /// <summary>The htpasswd file of a registry started with <see cref="DockerRegistryOptions.HtpasswdUsers"/>.</summary>
    public string HtpasswdPath => Path.Combine(RootDirectory, "htpasswd");

    /// <summary>
    /// Replaces the users of a registry started with <see cref="DockerRegistryOptions.HtpasswdUsers"/> (a password
    /// rotated at the registry). The file is replaced by rename; docker-registry 2.8 reads it again when its modification
    /// time changes, so the next request is checked against the new users, with no restart.
    /// </summary>
    public async Task SetHtpasswdUsersAsync(IDictionary<string, string> users, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(users);
        if (!File.Exists(HtpasswdPath))
        {
            throw new InvalidOperationException("This registry was not started with htpasswd users.");
        }

        var lines = new StringBuilder();
        foreach (var (user, password) in users)
        {
            lines.AppendLine(await HtpasswdLineAsync(user, password, cancellationToken).ConfigureAwait(false));
        }

        string temp = HtpasswdPath + ".new";
        await File.WriteAllTextAsync(temp, lines.ToString(), cancellationToken).ConfigureAwait(false);
        File.Move(temp, HtpasswdPath, overwrite: true);
    }

    /// <summary>A bcrypt htpasswd line from apache2-utils' <c>htpasswd -nbB</c>.</summary>
    private static async Task<string> HtpasswdLineAsync(string user, string password, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo("htpasswd") { ArgumentList = { "-nbB", "-C", "5", user, password }, RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start htpasswd (apt package apache2-utils).");
        string output = await process.StandardOutput.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
        string error = await process.StandardError.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"htpasswd failed: {error}");
        }

        return output.Trim();
    }

    // YAML double-quoted scalar.
    private static string Quote(string value) => "\"" + value.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";

    private static void TryDelete(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (InvalidOperationException)
        {
        }
        catch (OperationCanceledException)
        {
        }

        _process.Dispose();
        _log.Dispose();

        TryDelete(RootDirectory);
    }

    /// <summary>A log file that output callbacks may still write to while the process is being stopped.</summary>
    private sealed class LogSink(string path) : IDisposable
    {
        private readonly StreamWriter _writer = new(path, append: false, Encoding.UTF8);
        private bool _closed;

        public void WriteLine(string line)
        {
            lock (_writer)
            {
                if (!_closed)
                {
                    _writer.WriteLine(line);
                }
            }
        }

        public void Flush()
        {
            lock (_writer)
            {
                if (!_closed)
                {
                    _writer.Flush();
                }
            }
        }

        public void Dispose()
        {
            lock (_writer)
            {
                _closed = true;
                _writer.Dispose();
            }
        }
    }
}
