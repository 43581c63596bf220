using System.Globalization;
using System.Text;
using Accelerator.Containerd.Api.Cri;
using Accelerator.Containerd.Grpc;
using Grpc.Core;
using Grpc.Net.Client;

namespace Accelerator.Testing.Cri;

/// <summary>
/// What kubelet does, for tests: a CRI (<c>runtime.v1</c>) client on a unix socket (containerd's own, or a CRI proxy
/// for the image calls) that pulls images, runs host-network pod sandboxes, creates and starts containers, waits for
/// them to exit, reads their logs and removes everything. Every call has a deadline.
/// </summary>
public sealed class CriClient : IDisposable
{
    /// <summary>How long a pull may take (real images from a local registry, possibly lazily behind a snapshotter).</summary>
    public static readonly TimeSpan PullTimeout = TimeSpan.FromMinutes(5);

    /// <summary>How long any other call may take.</summary>
    public static readonly TimeSpan CallTimeout = TimeSpan.FromMinutes(2);

    private readonly GrpcChannel _runtimeChannel;
    private readonly GrpcChannel? _imageChannel;

    private CriClient(GrpcChannel runtimeChannel, GrpcChannel? imageChannel)
    {
        _runtimeChannel = runtimeChannel;
        _imageChannel = imageChannel;
        Runtime = new RuntimeService.RuntimeServiceClient(runtimeChannel);
        Images = new ImageService.ImageServiceClient(imageChannel ?? runtimeChannel);
    }

    /// <summary>The runtime service (pods and containers).</summary>
    public RuntimeService.RuntimeServiceClient Runtime { get; }

    /// <summary>The image service: the runtime's own, or the image endpoint given to <see cref="Connect"/>.</summary>
    public ImageService.ImageServiceClient Images { get; }

    /// <summary>
    /// Connects to the runtime at <paramref name="runtimeEndpoint"/>, and for image calls to
    /// <paramref name="imageEndpoint"/> when given (kubelet's <c>--image-service-endpoint</c>, e.g. a CRI proxy).
    /// </summary>
    public static CriClient Connect(string runtimeEndpoint, string? imageEndpoint = null)
        => new(UnixSocketChannel.Create(runtimeEndpoint), imageEndpoint is null ? null : UnixSocketChannel.Create(imageEndpoint));

    /// <summary>Pulls <paramref name="image"/> (with <paramref name="auth"/>, as kubelet sends an image pull secret) and returns the image reference the runtime answers (its ID).</summary>
    public async Task<string> PullImageAsync(string image, AuthConfig? auth = null, CancellationToken cancellationToken = default)
    {
        var request = new PullImageRequest { Image = new ImageSpec { Image = image } };
        if (auth is not null)
        {
            request.Auth = auth;
        }

        var response = await Images.PullImageAsync(request, Options(PullTimeout, cancellationToken)).ConfigureAwait(false);
        return response.ImageRef;
    }

    /// <summary>The image's status, or <see langword="null"/> when the runtime does not have it.</summary>
    public async Task<Image?> ImageStatusAsync(string image, CancellationToken cancellationToken = default)
    {
        var response = await Images.ImageStatusAsync(new ImageStatusRequest { Image = new ImageSpec { Image = image } }, Options(CallTimeout, cancellationToken)).ConfigureAwait(false);
        return response.Image;
    }

    /// <summary>
    /// Runs a pod sandbox in the host's network namespace (no CNI plugin needed), its containers' logs under
    /// <paramref name="logDirectory"/> (created if missing).
    /// </summary>
    /// <param name="name">The pod's name; a unique UID is added.</param>
    /// <param name="logDirectory">The pod's log directory (kubelet's <c>/var/log/pods/…</c>).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<CriPod> RunHostNetworkPodAsync(string name, string logDirectory, CancellationToken cancellationToken = default)
    {
        Directory.CreateDirectory(logDirectory);
        var config = new PodSandboxConfig
        {
            Metadata = new PodSandboxMetadata { Name = name, Namespace = "accel-test", Uid = Guid.NewGuid().ToString("N") },
            LogDirectory = logDirectory,
            Linux = new LinuxPodSandboxConfig
            {
                SecurityContext = new LinuxSandboxSecurityContext { NamespaceOptions = new NamespaceOption { Network = NamespaceMode.Node } },
            },
        };
        var response = await Runtime.RunPodSandboxAsync(new RunPodSandboxRequest { Config = config }, Options(PullTimeout, cancellationToken)).ConfigureAwait(false);
        return new CriPod(response.PodSandboxId, config);
    }

    /// <summary>
    /// Creates and starts a container of <paramref name="image"/> in <paramref name="pod"/> running
    /// <paramref name="command"/> (the image's entrypoint when empty) with <paramref name="args"/>; its log goes to
    /// <c>POD_LOG_DIRECTORY/NAME.log</c>.
    /// </summary>
    public async Task<CriContainer> StartContainerAsync(CriPod pod, string name, string image, IReadOnlyList<string> command,
        IReadOnlyList<string>? args = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(pod);
        var config = new ContainerConfig
        {
            Metadata = new ContainerMetadata { Name = name },
            Image = new ImageSpec { Image = image },
            LogPath = name + ".log",
        };
        config.Command.AddRange(command);
        config.Args.AddRange(args ?? []);
        var created = await Runtime.CreateContainerAsync(
            new CreateContainerRequest { PodSandboxId = pod.Id, Config = config, SandboxConfig = pod.Config },
            Options(PullTimeout, cancellationToken)).ConfigureAwait(false);
        await Runtime.StartContainerAsync(new StartContainerRequest { ContainerId = created.ContainerId }, Options(PullTimeout, cancellationToken)).ConfigureAwait(false);
        return new CriContainer(created.ContainerId, Path.Combine(pod.Config.LogDirectory, config.LogPath));
    }

    /// <summary>Polls the container's status until it has exited (at most <paramref name="timeout"/>) and returns that status.</summary>
    /// <exception cref="TimeoutException">It was still running after <paramref name="timeout"/>.</exception>
    public async Task<ContainerStatus> WaitForExitAsync(CriContainer container, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(container);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            while (true)
            {
                var response = await Runtime.ContainerStatusAsync(new ContainerStatusRequest { ContainerId = container.Id },
                    Options(CallTimeout, deadline.Token)).ConfigureAwait(false);
                if (response.Status.State == ContainerState.ContainerExited)
                {
                    return response.Status;
                }

                await Task.Delay(100, deadline.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or RpcException { StatusCode: StatusCode.Cancelled } && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"Container {container.Id} did not exit within {timeout.TotalSeconds} s.", ex);
        }
    }

    /// <summary>
    /// Runs one container to its end in a new host-network pod: pod, container, wait, log; then removes the pod (and
    /// with it the container), also when something failed.
    /// </summary>
    public async Task<CriRunResult> RunToExitAsync(string image, IReadOnlyList<string> command, string logDirectory, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var pod = await RunHostNetworkPodAsync("run-" + Guid.NewGuid().ToString("N")[..8], logDirectory, cancellationToken).ConfigureAwait(false);
        try
        {
            var container = await StartContainerAsync(pod, "main", image, command, cancellationToken: cancellationToken).ConfigureAwait(false);
            var status = await WaitForExitAsync(container, timeout, cancellationToken).ConfigureAwait(false);
            return new CriRunResult(status.ExitCode, ReadLog(container.LogPath), status);
        }
        finally
        {
            await RemovePodAsync(pod.Id, CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>Stops and removes the pod sandbox (the runtime removes its containers too).</summary>
    public async Task RemovePodAsync(string podId, CancellationToken cancellationToken = default)
    {
        await Runtime.StopPodSandboxAsync(new StopPodSandboxRequest { PodSandboxId = podId }, Options(CallTimeout, cancellationToken)).ConfigureAwait(false);
        await Runtime.RemovePodSandboxAsync(new RemovePodSandboxRequest { PodSandboxId = podId }, Options(CallTimeout, cancellationToken)).ConfigureAwait(false);
    }

    /// <summary>Removes every pod sandbox the runtime has (a fixture's clean-up).</summary>
    public async Task RemoveAllPodsAsync(CancellationToken cancellationToken = default)
    {
        var pods = await Runtime.ListPodSandboxAsync(new ListPodSandboxRequest(), Options(CallTimeout, cancellationToken)).ConfigureAwait(false);
        foreach (var pod in pods.Items)
        {
            await RemovePodAsync(pod.Id, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The text a container wrote, from its CRI log file: each line is <c>TIMESTAMP STREAM TAG MESSAGE</c>, the tag
    /// <c>P</c> for a partial line continued by the next entry and <c>F</c> for a full one (kubelet's CRI logging format).
    /// </summary>
    public static string ReadLog(string logPath)
    {
        if (!File.Exists(logPath))
        {
            return string.Empty;
        }

        var text = new StringBuilder();
        foreach (string line in File.ReadLines(logPath))
        {
            string[] parts = line.Split(' ', 4);
            if (parts.Length < 3)
            {
                continue;
            }

            text.Append(parts.Length == 4 ? parts[3] : string.Empty);
            if (parts[2] != "P")
            {
                text.Append('\n');
            }
        }

        return text.ToString();
    }

    /// <summary>The runtime's name and version, e.g. <c>containerd 1.6.20</c>.</summary>
    public async Task<string> VersionAsync(CancellationToken cancellationToken = default)
    {
        var version = await Runtime.VersionAsync(new VersionRequest { Version = "v1" }, Options(CallTimeout, cancellationToken)).ConfigureAwait(false);
        return string.Create(CultureInfo.InvariantCulture, $"{version.RuntimeName} {version.RuntimeVersion}");
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _runtimeChannel.Dispose();
        _imageChannel?.Dispose();
    }

    private static CallOptions Options(TimeSpan timeout, CancellationToken cancellationToken)
        => new(deadline: DateTime.UtcNow + timeout, cancellationToken: cancellationToken);
}

/// <summary>A pod sandbox a <see cref="CriClient"/> ran.</summary>
/// <param name="Id">The sandbox ID.</param>
/// <param name="Config">The configuration it was run with (sent again with each container, as kubelet does).</param>
public sealed record CriPod(string Id, PodSandboxConfig Config);

/// <summary>A container a <see cref="CriClient"/> started.</summary>
/// <param name="Id">The container ID.</param>
/// <param name="LogPath">Its CRI log file on the host.</param>
public sealed record CriContainer(string Id, string LogPath);

/// <summary>How a container run by <see cref="CriClient.RunToExitAsync"/> ended.</summary>
/// <param name="ExitCode">The exit code.</param>
/// <param name="Output">Its standard output and error, from the log.</param>
/// <param name="Status">The runtime's final status (reason, message, times).</param>
public sealed record CriRunResult(int ExitCode, string Output, ContainerStatus Status);
