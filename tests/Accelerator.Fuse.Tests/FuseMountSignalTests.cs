using System.Diagnostics;
using Accelerator.Fuse.Tests.Support;
using Accelerator.Fuse.Tests.TestHost;

namespace Accelerator.Fuse.Tests;

/// <summary>A process serving a mount with <see cref="FuseMountOptions.UnmountOnSignal"/> unmounts cleanly on SIGINT and SIGTERM.</summary>
public sealed class FuseMountSignalTests : IDisposable
{
    private readonly MountScratch _scratch = new();

    public void Dispose() => _scratch.Dispose();

    [Theory]
    [InlineData(TestSyscalls.SIGTERM)]
    [InlineData(TestSyscalls.SIGINT)]
    public async Task Signal_MountHost_UnmountsAndExitsZero(int signal)
    {
        _scratch.WriteFile("file", "served by a child\n"u8.ToArray());
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            ArgumentList = { typeof(MountHostProgram).Assembly.Location, "mount-host", _scratch.Source, _scratch.MountPoint },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var host = Process.Start(start)!;
        try
        {
            string? ready = await host.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60));
            if (ready != "ready")
            {
                host.Kill();
                Assert.Fail($"host said '{ready}': {await host.StandardError.ReadToEndAsync()}");
            }

            Assert.Equal("served by a child\n", await File.ReadAllTextAsync(Path.Combine(_scratch.MountPoint, "file")));

            TestSyscalls.Kill(host.Id, signal);
            await host.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));

            Assert.Equal(0, host.ExitCode);
            Assert.False(MountIdentity.IsMountPoint(_scratch.MountPoint));
        }
        finally
        {
            if (!host.HasExited)
            {
                host.Kill();
            }
        }
    }
}
