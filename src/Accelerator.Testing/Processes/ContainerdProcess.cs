using System.Diagnostics;
using System.Globalization;
using System.Text;
using Accelerator.Linux;
using Accelerator.Oci.Layers;
using Accelerator.Testing.Images;

namespace Accelerator.Testing.Processes;

/// <summary>
/// A private <c>containerd</c> (root, state and socket in its own temporary directory; CRI disabled unless
/// <see cref="ContainerdProcessOptions.Cri"/> configures it) for tests that
/// run containers with <c>ctr</c> and runc. <see cref="CtrAsync"/> works in a namespace of its own, so runc's state
/// (<c>/run/containerd/runc/NAMESPACE</c>) is separate from any other containerd on the machine. Disposing removes
/// what is left (tasks, containers, mounts, runc state), stops containerd and deletes the directory.
/// </summary>
public sealed class ContainerdProcess : IAsyncDisposable
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(20);
    private readonly Process _process;
    private readonly StringBuilder _error = new();

    private ContainerdProcess(Process process, string directory, bool cri)
    {
        _process = process;
        Directory = directory;
        Namespace = "accel-test-" + Path.GetFileName(directory)[^6..].ToLowerInvariant();
        HasCri = cri;
    }

    /// <summary>The namespace the CRI plugin keeps pods, containers and images in.</summary>
    public const string CriNamespace = "k8s.io";

    /// <summary>The temporary directory holding the configuration, root, state and socket.</summary>
    public string Directory { get; }

    /// <summary>The gRPC socket (<c>ctr --address</c>).</summary>
    public string Address => Path.Combine(Directory, "containerd.sock");

    /// <summary>The containerd namespace <see cref="CtrAsync"/> uses.</summary>
    public string Namespace { get; }

    /// <summary>Whether the CRI plugin runs; it is served on <see cref="Address"/> too (kubelet's <c>--container-runtime-endpoint</c>).</summary>
    public bool HasCri { get; }

    /// <summary>Starts containerd and waits until <c>ctr version</c> gets an answer (at most 30 seconds).</summary>
    /// <exception cref="InvalidOperationException">containerd exited or did not answer in time; the message has its standard error.</exception>
    public static Task<ContainerdProcess> StartAsync(CancellationToken cancellationToken = default)
        => StartAsync(new ContainerdProcessOptions(), cancellationToken);

    /// <summary>Starts containerd with <paramref name="options"/> (proxy snapshotters, extra configuration) and waits until it answers.</summary>
    /// <exception cref="InvalidOperationException">containerd exited or did not answer in time; the message has its standard error.</exception>
    public static async Task<ContainerdProcess> StartAsync(ContainerdProcessOptions options, CancellationToken cancellationToken = default)
    {
        string directory = System.IO.Directory.CreateTempSubdirectory("accel-containerd-").FullName;
        string config = Path.Combine(directory, "containerd.toml");
        var toml = new StringBuilder();
        toml.AppendLine(CultureInfo.InvariantCulture, $"""
            version = 2
            root = "{directory}/root"
            state = "{directory}/state"
            """);
        bool cri = options.EnableCri || options.Cri is not null;
        if (!cri)
        {
            toml.AppendLine("disabled_plugins = [\"io.containerd.grpc.v1.cri\"]");
        }

        toml.AppendLine(CultureInfo.InvariantCulture, $"""
            [grpc]
              address = "{directory}/containerd.sock"
            """);
        foreach (var (name, address) in options.ProxySnapshotters)
        {
            toml.AppendLine(CultureInfo.InvariantCulture, $"""
                [proxy_plugins.{name}]
                  type = "snapshot"
                  address = "{address}"
                """);
        }

        if (options.Cri is { } criOptions)
        {
            toml.AppendLine(CriConfiguration(criOptions, directory));
        }

        if (options.ExtraConfiguration is { } extra)
        {
            toml.AppendLine(extra.Replace("{directory}", directory, StringComparison.Ordinal));
        }

        await File.WriteAllTextAsync(config, toml.ToString(), cancellationToken).ConfigureAwait(false);
        var start = new ProcessStartInfo("containerd") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("--config");
        start.ArgumentList.Add(config);
        var process = new Process { StartInfo = start };
        var containerd = new ContainerdProcess(process, directory, cri);
        process.ErrorDataReceived += (_, e) => containerd.AppendError(e.Data);
        process.OutputDataReceived += (_, _) => { };
        try
        {
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            await containerd.WaitReadyAsync(cancellationToken).ConfigureAwait(false);
            return containerd;
        }
        catch
        {
            await containerd.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    // containerd 1.6's CRI plugin: host-network pods need no CNI plugin (the directories only have to exist); runc's
    // state goes under the process's directory so that tests never share /run/containerd/runc/k8s.io; registries are
    // found through hosts.toml files (config_path), the same way P2P mirrors are configured on a node. The sandbox's
    // oom_score_adj (-998) needs CAP_SYS_RESOURCE, which a test machine inside a container may lack (runc then fails
    // with "can't get final child's PID"): restrict_oom_score_adj keeps scores at or above containerd's own.
    private static string CriConfiguration(ContainerdCriOptions options, string directory)
    {
        const string Plugin = "plugins.\"io.containerd.grpc.v1.cri\"";
        System.IO.Directory.CreateDirectory(Path.Combine(directory, "cni", "bin"));
        System.IO.Directory.CreateDirectory(Path.Combine(directory, "cni", "net.d"));
        foreach (string registry in options.PlainHttpRegistries)
        {
            string hosts = System.IO.Directory.CreateDirectory(Path.Combine(directory, "certs.d", registry)).FullName;
            File.WriteAllText(Path.Combine(hosts, "hosts.toml"), $"""
                server = "http://{registry}"

                [host."http://{registry}"]
                  capabilities = ["pull", "resolve"]
                """);
        }

        System.IO.Directory.CreateDirectory(Path.Combine(directory, "certs.d"));
        return string.Create(CultureInfo.InvariantCulture, $"""
            [{Plugin}]
              sandbox_image = "{options.SandboxImage}"
              stream_server_address = "127.0.0.1"
              stream_server_port = "0"
              enable_selinux = false
              restrict_oom_score_adj = true
              [{Plugin}.containerd]
                snapshotter = "{options.Snapshotter}"
                disable_snapshot_annotations = false
                default_runtime_name = "runc"
                [{Plugin}.containerd.runtimes.runc]
                  runtime_type = "io.containerd.runc.v2"
                  [{Plugin}.containerd.runtimes.runc.options]
                    Root = "{directory}/runc"
              [{Plugin}.cni]
                bin_dir = "{directory}/cni/bin"
                conf_dir = "{directory}/cni/net.d"
              [{Plugin}.registry]
                config_path = "{directory}/certs.d"
            """);
    }

    /// <summary>
    /// Writes the smallest root file system a container can run a shell in: the machine's static
    /// <c>/bin/busybox</c> as <c>bin/busybox</c>, <c>bin/sh</c> linking to it, and an empty <c>etc/</c>.
    /// </summary>
    /// <returns><paramref name="directory"/>.</returns>
    public static string WriteBusyboxRootfs(string directory)
    {
        System.IO.Directory.CreateDirectory(Path.Combine(directory, "bin"));
        System.IO.Directory.CreateDirectory(Path.Combine(directory, "etc"));
        File.Copy("/bin/busybox", Path.Combine(directory, "bin", "busybox"));
        File.CreateSymbolicLink(Path.Combine(directory, "bin", "sh"), "busybox");
        return directory;
    }

    /// <summary>Runs <c>ctr --address ADDRESS --namespace NAMESPACE ARGS</c> and returns its standard output.</summary>
    /// <exception cref="ExternalToolException">ctr failed.</exception>
    public Task<string> CtrAsync(IEnumerable<string> arguments, CancellationToken cancellationToken = default)
        => ExternalTool.RunAsync("ctr", ["--address", Address, "--namespace", Namespace, .. arguments], cancellationToken: cancellationToken);

    /// <summary>Removes the tasks and containers left in the namespace, stops containerd, unmounts what it left and deletes the directory.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            if (IsRunning)
            {
                await RemoveContainersAsync().ConfigureAwait(false);
                await StopAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            // Snapshot and task rootfs mounts of containers that could not be removed; deepest first.
            foreach (string mountPoint in MountPointsUnder(Directory))
            {
                FileSystemMount.Unmount(mountPoint);
            }

            string runcState = Path.Combine("/run/containerd/runc", Namespace);
            if (System.IO.Directory.Exists(runcState))
            {
                System.IO.Directory.Delete(runcState, recursive: true);
            }

            _process.Dispose();
            System.IO.Directory.Delete(Directory, recursive: true);
        }
    }

    private bool IsRunning
    {
        get
        {
            try
            {
                return !_process.HasExited;
            }
            catch (InvalidOperationException)
            {
                // Never started.
                return false;
            }
        }
    }

    private async Task WaitReadyAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ReadyTimeout);
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"containerd exited with {_process.ExitCode}: {ErrorText()}");
            }

            if (File.Exists(Address))
            {
                try
                {
                    await ExternalTool.RunAsync("ctr", ["--address", Address, "version"], cancellationToken: timeout.Token).ConfigureAwait(false);
                    return;
                }
                catch (ExternalToolException)
                {
                    // Listening but not serving yet.
                }
            }

            try
            {
                await Task.Delay(50, timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new InvalidOperationException($"containerd did not answer within {ReadyTimeout.TotalSeconds} s: {ErrorText()}");
            }
        }
    }

    private async Task RemoveContainersAsync()
    {
        foreach (string ns in HasCri ? [Namespace, CriNamespace] : new[] { Namespace })
        {
            foreach (string task in await ListAsync(ns, "tasks").ConfigureAwait(false))
            {
                await TryCtrAsync(ns, ["tasks", "kill", "--signal", "SIGKILL", task]).ConfigureAwait(false);
                await TryCtrAsync(ns, ["tasks", "delete", "--force", task]).ConfigureAwait(false);
            }

            foreach (string container in await ListAsync(ns, "containers").ConfigureAwait(false))
            {
                await TryCtrAsync(ns, ["containers", "delete", container]).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Runs <c>ctr</c> in namespace <paramref name="ns"/> (e.g. <see cref="CriNamespace"/>) and returns its standard output.</summary>
    /// <exception cref="ExternalToolException">ctr failed.</exception>
    public Task<string> CtrInNamespaceAsync(string ns, IEnumerable<string> arguments, CancellationToken cancellationToken = default)
        => ExternalTool.RunAsync("ctr", ["--address", Address, "--namespace", ns, .. arguments], cancellationToken: cancellationToken);

    /// <summary>
    /// Waits (at most 30 s) until containerd answers a call through its proxy snapshotter <paramref name="snapshotter"/>:
    /// containerd dials a proxy plugin's socket when it starts or when the daemon restarts and retries with a back-off
    /// (at most 3 s in containerd 1.6); until it reconnects, calls through it fail with Unavailable.
    /// </summary>
    public async Task WaitForSnapshotterAsync(string snapshotter, CancellationToken cancellationToken = default)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                await CtrAsync(["snapshots", "--snapshotter", snapshotter, "ls"], cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (ExternalToolException) when (attempt < 60)
            {
                await Task.Delay(500, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private Task<string> CtrInAsync(string ns, IEnumerable<string> arguments) => CtrInNamespaceAsync(ns, arguments);

    private async Task<string[]> ListAsync(string ns, string kind)
    {
        try
        {
            string output = await CtrInAsync(ns, [kind, "list", "--quiet"]).ConfigureAwait(false);
            return output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        }
        catch (ExternalToolException)
        {
            return [];
        }
    }

    private async Task TryCtrAsync(string ns, string[] arguments)
    {
        try
        {
            await CtrInAsync(ns, arguments).ConfigureAwait(false);
        }
        catch (ExternalToolException)
        {
            // Already gone, or it stopped on its own; the mounts are swept after containerd stops.
        }
    }

    private async Task StopAsync()
    {
        // SIGTERM lets containerd close its metadata database cleanly.
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)])!)
        {
            await kill.WaitForExitAsync().ConfigureAwait(false);
        }

        using var timeout = new CancellationTokenSource(StopTimeout);
        try
        {
            await _process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Mount points at or under <paramref name="directory"/>, deepest first.</summary>
    private static IEnumerable<string> MountPointsUnder(string directory) => MountTable.MountPointsUnder(MountTable.Read(), directory);

    private void AppendError(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_error)
        {
            // Keep the tail: containerd logs every plugin it loads.
            if (_error.Length > 16_384)
            {
                _error.Remove(0, 8_192);
            }

            _error.AppendLine(line);
        }
    }

    /// <summary>The tail of containerd's standard error (its log), for a failing test's message.</summary>
    public string ErrorOutput => ErrorText();

    private string ErrorText()
    {
        lock (_error)
        {
            return _error.ToString();
        }
    }
}
