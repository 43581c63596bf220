using System.Diagnostics;
using Accelerator.Testing.Samples;

namespace Accelerator.IntegrationTests.Samples;

/// <summary>The host-app sample mounts an image through DI with options from its appsettings.json.</summary>
public sealed class HostAppSampleTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("accel-sample-host-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    [Fact]
    public async Task HostApp_MountsLayoutImage_KeepsTreeAsConfigured()
    {
        var image = await SampleImageGenerator.WriteLayoutAsync(Path.Combine(_work, "layout"), new SampleImageOptions { TotalSize = 1 << 20, LayerCount = 2 });
        string target = Path.Combine(_work, "rootfs");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in new[] { Path.Combine(AppContext.BaseDirectory, "Accelerator.Samples.HostApp.dll"), image.OciReference, target })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);

        Assert.True(process.ExitCode == 0, await stderr + await stdout);
        Assert.Contains("strategy full", await stdout);
        // appsettings.json sets FullPull:RemoveOnUnmount to false, so the tree outlives the mount.
        foreach (var (path, size) in image.Files)
        {
            Assert.Equal(size, new FileInfo(Path.Combine(target, path.TrimStart('/'))).Length);
        }
    }
}
