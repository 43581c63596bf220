using System.Text.Json.Serialization;
using Accelerator.Containerd.Api.Cri;
using Accelerator.Testing.Cri;
using Grpc.Core;

namespace Accelerator.Benchmarks.Containerd;

/// <summary>A container start as kubelet makes it, timed call by call.</summary>
internal static class CriStart
{
    // How often the container's status is asked for while it runs: the end is known to within this.
    private static readonly TimeSpan ExitPollInterval = TimeSpan.FromMilliseconds(10);

    private static readonly TimeSpan ExitTimeout = TimeSpan.FromMinutes(10);

    /// <summary>
    /// PullImage of <paramref name="image"/>, RunPodSandbox (host network), CreateContainer and StartContainer of a
    /// container running <paramref name="command"/>, then ContainerStatus until it has exited; the pod is removed
    /// afterwards (not timed), also when a step failed.
    /// </summary>
    public static async Task<CriStartResult> RunAsync(CriClient cri, string image, IReadOnlyList<string> command, string logDirectory, TimeProvider time)
    {
        long started = time.GetTimestamp();
        string imageRef = await cri.PullImageAsync(image).ConfigureAwait(false);
        long pulled = time.GetTimestamp();
        var pod = await cri.RunHostNetworkPodAsync("bench", logDirectory).ConfigureAwait(false);
        try
        {
            long sandboxReady = time.GetTimestamp();
            var config = new ContainerConfig
            {
                Metadata = new ContainerMetadata { Name = "start" },
                Image = new ImageSpec { Image = image },
                LogPath = "start.log",
            };
            config.Command.AddRange(command);
            var created = await cri.Runtime.CreateContainerAsync(new CreateContainerRequest { PodSandboxId = pod.Id, Config = config, SandboxConfig = pod.Config }, Deadline()).ConfigureAwait(false);
            long createdAt = time.GetTimestamp();
            await cri.Runtime.StartContainerAsync(new StartContainerRequest { ContainerId = created.ContainerId }, Deadline()).ConfigureAwait(false);
            long startedAt = time.GetTimestamp();
            var status = await WaitForExitAsync(cri, created.ContainerId).ConfigureAwait(false);
            long exited = time.GetTimestamp();
            return new CriStartResult
            {
                Image = image,
                ImageRef = imageRef,
                PullSeconds = time.GetElapsedTime(started, pulled).TotalSeconds,
                SandboxSeconds = time.GetElapsedTime(pulled, sandboxReady).TotalSeconds,
                CreateSeconds = time.GetElapsedTime(sandboxReady, createdAt).TotalSeconds,
                StartSeconds = time.GetElapsedTime(createdAt, startedAt).TotalSeconds,
                RunSeconds = time.GetElapsedTime(startedAt, exited).TotalSeconds,
                TotalSeconds = time.GetElapsedTime(started, exited).TotalSeconds,
                ExitCode = status.ExitCode,
                Output = CriClient.ReadLog(Path.Combine(logDirectory, config.LogPath)),
            };
        }
        finally
        {
            await cri.RemovePodAsync(pod.Id).ConfigureAwait(false);
        }
    }

    private static async Task<ContainerStatus> WaitForExitAsync(CriClient cri, string containerId)
    {
        using var deadline = new CancellationTokenSource(ExitTimeout);
        while (true)
        {
            var response = await cri.Runtime.ContainerStatusAsync(new ContainerStatusRequest { ContainerId = containerId }, Deadline(deadline.Token)).ConfigureAwait(false);
            if (response.Status.State == ContainerState.ContainerExited)
            {
                return response.Status;
            }

            await Task.Delay(ExitPollInterval, deadline.Token).ConfigureAwait(false);
        }
    }

    private static CallOptions Deadline(CancellationToken cancellationToken = default)
        => new(deadline: DateTime.UtcNow + CriClient.CallTimeout, cancellationToken: cancellationToken);
}

/// <summary>What one timed container start took.</summary>
internal sealed record CriStartResult
{
    /// <summary>The snapshotter CRI used: overlayfs or accel.</summary>
    public string Snapshotter { get; init; } = "";

    /// <summary>The image pulled.</summary>
    public required string Image { get; init; }

    /// <summary>The image reference PullImage answered (the image ID).</summary>
    public required string ImageRef { get; init; }

    /// <summary>PullImage.</summary>
    public double PullSeconds { get; init; }

    /// <summary>RunPodSandbox (the sandbox image was pulled before).</summary>
    public double SandboxSeconds { get; init; }

    /// <summary>CreateContainer (the container's snapshot is prepared here).</summary>
    public double CreateSeconds { get; init; }

    /// <summary>StartContainer.</summary>
    public double StartSeconds { get; init; }

    /// <summary>From StartContainer's answer until ContainerStatus says exited (polled every 10 ms).</summary>
    public double RunSeconds { get; init; }

    /// <summary>From PullImage until the command exited.</summary>
    public double TotalSeconds { get; init; }

    /// <summary>The command's exit code.</summary>
    public int ExitCode { get; init; }

    /// <summary>What the command wrote (its CRI log).</summary>
    public string Output { get; init; } = "";
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(CriStartResult))]
internal sealed partial class CriStartResultContext : JsonSerializerContext;
