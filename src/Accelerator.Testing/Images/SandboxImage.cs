using Accelerator.Testing.Processes;

namespace Accelerator.Testing.Images;

/// <summary>
/// A pod sandbox ("pause") image for CRI tests, built from the machine's static <c>/bin/busybox</c> (one layer:
/// <c>bin/busybox</c>, <c>bin/sh</c> and <c>bin/sleep</c> linking to it) whose entrypoint sleeps until the runtime kills
/// it, the way the real pause image waits. Built with umoci and pushed with skopeo, so no image comes from the
/// internet.
/// </summary>
public static class SandboxImage
{
    /// <summary>The repository the image is pushed to.</summary>
    public const string Repository = "accel-test/pause";

    /// <summary>The tag it is pushed with.</summary>
    public const string Tag = "1";

    /// <summary>
    /// Builds the image in <paramref name="workDirectory"/> and pushes it to <paramref name="registryHost"/> (plain
    /// HTTP); returns its reference, <c>HOST/accel-test/pause:1</c>.
    /// </summary>
    public static async Task<string> PushAsync(string registryHost, string workDirectory, CancellationToken cancellationToken = default)
    {
        string work = Directory.CreateDirectory(Path.Combine(workDirectory, "sandbox-image-" + Guid.NewGuid().ToString("N")[..8])).FullName;
        string rootfs = ContainerdProcess.WriteBusyboxRootfs(Path.Combine(work, "rootfs"));
        File.CreateSymbolicLink(Path.Combine(rootfs, "bin", "sleep"), "busybox");
        string tar = Path.Combine(work, "layer.tar");
        await ExternalTool.RunAsync("tar", ["--create", "--file", tar, "--directory", rootfs, "--numeric-owner", "--owner=0", "--group=0", "."], cancellationToken: cancellationToken).ConfigureAwait(false);
        string layout = Path.Combine(work, "layout");
        string image = $"{layout}:{Tag}";
        await ExternalTool.RunAsync("umoci", ["init", "--layout", layout], cancellationToken: cancellationToken).ConfigureAwait(false);
        await ExternalTool.RunAsync("umoci", ["new", "--image", image], cancellationToken: cancellationToken).ConfigureAwait(false);
        await ExternalTool.RunAsync("umoci", ["raw", "add-layer", "--image", image, "--history.created_by", "busybox as pause", tar], cancellationToken: cancellationToken).ConfigureAwait(false);
        // About 68 years: the sandbox's process only has to outlive its pod; CRI stops it with SIGKILL.
        await ExternalTool.RunAsync("umoci", ["config", "--image", image, "--config.entrypoint", "/bin/sleep", "--config.cmd", "2147483647"], cancellationToken: cancellationToken).ConfigureAwait(false);
        await OciLayoutTools.PushAsync(layout, Tag, registryHost, Repository, cancellationToken: cancellationToken).ConfigureAwait(false);
        Directory.Delete(work, recursive: true);
        return $"{registryHost}/{Repository}:{Tag}";
    }
}
