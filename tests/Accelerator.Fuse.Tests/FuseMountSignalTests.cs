using System.Diagnostics;
using Accelerator.Fuse.Interop;
using Accelerator.Fuse.Tests.Support;
using Accelerator.Fuse.Tests.TestHost;
using Accelerator.Linux;

namespace Accelerator.Fuse.Tests;

/// <summary>
/// A process serving a mount with <see cref="FuseMountOptions.UnmountOnSignal"/> unmounts cleanly on SIGINT and SIGTERM
/// — unless it is handing over (<see cref="FuseHandover.Begin"/>): then it stops serving and leaves the mount.
/// </summary>
public sealed class FuseMountSignalTests : IDisposable
{
    private readonly MountScratch _scratch = new();

    public void Dispose() => _scratch.Dispose();

    [Theory]
    [InlineData(TestSyscalls.SIGTERM)]
    [InlineData(TestSyscalls.SIGINT)]
    public async Task Signal_MountHost_UnmountsAndExitsZero(int signal)
    {
        // With the defaults, whatever this runner ignores (a background job of a shell ignores SIGINT, and so would the host).
        using var host = await StartHostAsync(SignalledChild.WithDefaultSignals(HostProgram, HostArguments()));
        try
        {
            Assert.Equal("served by a child\n", await File.ReadAllTextAsync(Path.Combine(_scratch.MountPoint, "file")));

            TestSyscalls.Kill(host.Id, signal);
            await host.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));

            Assert.Equal(0, host.ExitCode);
            Assert.False(MountTable.IsMountPoint(_scratch.MountPoint));
        }
        finally
        {
            StopHost(host);
        }
    }

    [Fact]
    public async Task Signal_MountHostStartedWithSigintIgnored_WarnsIgnoresSigintAndUnmountsOnSigterm()
    {
        using var host = await StartHostAsync(SignalledChild.WithSigintIgnored(HostProgram, HostArguments()));
        try
        {
            // The host keeps the inherited ignore (as a background job of a shell expects): SIGINT neither kills it nor
            // leaves a dead mount behind, SIGTERM still unmounts cleanly, and a warning said that SIGINT will not.
            Assert.True(SignalDisposition.IsIgnored(await File.ReadAllTextAsync($"/proc/{host.Id}/status"), TestSyscalls.SIGINT));
            TestSyscalls.Kill(host.Id, TestSyscalls.SIGINT);
            Assert.Equal("served by a child\n", await File.ReadAllTextAsync(Path.Combine(_scratch.MountPoint, "file")));

            TestSyscalls.Kill(host.Id, TestSyscalls.SIGTERM);
            await host.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));

            Assert.Equal(0, host.ExitCode);
            Assert.False(MountTable.IsMountPoint(_scratch.MountPoint));
            Assert.Contains("SIGINT is ignored by this process", await host.StandardError.ReadToEndAsync(), StringComparison.Ordinal);
        }
        finally
        {
            StopHost(host);
        }
    }

    [Fact]
    public async Task Signal_MountHostHandingOver_StopsServingAndLeavesTheMount()
    {
        var start = SignalledChild.WithDefaultSignals(HostProgram, HostArguments());
        start.Environment[MountHostProgram.HandoverVariable] = "1";
        using var host = await StartHostAsync(start);
        try
        {
            Assert.Equal("served by a child\n", await File.ReadAllTextAsync(Path.Combine(_scratch.MountPoint, "file")));

            TestSyscalls.Kill(host.Id, TestSyscalls.SIGTERM);
            await host.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));

            // Not unmounted (no holder kept a copy of the descriptor here, so the connection ended with the host).
            Assert.Equal(0, host.ExitCode);
            Assert.True(MountTable.IsMountPoint(_scratch.MountPoint));
            Assert.Equal("left mounted", await host.StandardOutput.ReadLineAsync());
        }
        finally
        {
            StopHost(host);
        }
    }

    private static string HostProgram => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";

    private string[] HostArguments() => [typeof(MountHostProgram).Assembly.Location, "mount-host", _scratch.Source, _scratch.MountPoint];

    private async Task<Process> StartHostAsync(ProcessStartInfo start)
    {
        _scratch.WriteFile("file", "served by a child\n"u8.ToArray());
        var host = Process.Start(start)!;
        string? ready = await host.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60));
        if (ready != "ready")
        {
            StopHost(host);
            Assert.Fail($"host said '{ready}': {await host.StandardError.ReadToEndAsync()}");
        }

        return host;
    }

    private static void StopHost(Process host)
    {
        if (!host.HasExited)
        {
            host.Kill();
        }
    }
}
