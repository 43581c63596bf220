using Accelerator.Block.Disks;
using Accelerator.Block.Nbd;
using Accelerator.Block.Tests.Support;
using Accelerator.Testing;
using Accelerator.Testing.Processes;
using Microsoft.Extensions.Time.Testing;

namespace Accelerator.Block.Tests.Issues;

/// <summary>
/// Issue 12, B11: an NBD server must not delete what is not its socket, must not let idle clients hold every
/// connection slot, and <c>accel block serve</c> must not listen beyond loopback unless told to.
/// </summary>
public sealed class Issue12_NbdExposureTests : IAsyncLifetime
{
    private readonly TempDirectory _directory = new();
    private FileVirtualDisk _disk = null!;

    public Task InitializeAsync()
    {
        _disk = FileVirtualDisk.Open(RawImages.CreateRandom(_directory.Combine("d.img"), 1024 * 1024, seed: 12));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _disk.DisposeAsync();
        _directory.Dispose();
    }

    [Fact]
    public async Task Listen_UnixPathIsRegularFile_RefusedAndFileKept()
    {
        string path = _directory.Combine("precious.txt");
        await File.WriteAllTextAsync(path, "not a socket");
        await using var server = new NbdServer([new NbdExport("d", _disk)]);

        var error = await Assert.ThrowsAsync<IOException>(() => server.ListenAsync(NbdEndpoint.Unix(path)));

        Assert.Contains("not a socket", error.Message, StringComparison.Ordinal);
        Assert.Equal("not a socket", await File.ReadAllTextAsync(path));
    }

    [Fact]
    public async Task Transmission_IdleClientsHoldEverySlot_DisconnectedAfterIdleTimeoutAndNextClientServed()
    {
        var time = new FakeTimeProvider();
        string socket = _directory.Combine("idle.sock");
        await using var server = new NbdServer([new NbdExport("d", _disk)], new NbdServerOptions { MaxConnections = 2 }, timeProvider: time);
        await server.ListenAsync(NbdEndpoint.Unix(socket));
        await using var first = await RawNbdClient.ConnectAsync(socket);
        await using var second = await RawNbdClient.ConnectAsync(socket);
        foreach (var client in new[] { first, second })
        {
            await client.GreetAsync();
            await client.GoAsync("d");
        }

        time.Advance(TimeSpan.FromHours(1));

        Assert.True(await first.ClosedByServerAsync());
        Assert.True(await second.ClosedByServerAsync());
        await WaitForAsync(() => server.ActiveConnections == 0);
        await using var next = await RawNbdClient.ConnectAsync(socket);
        await next.GreetAsync();
        var (size, _) = await next.GoAsync("d");
        Assert.Equal((ulong)_disk.Size, size);
    }

    [Fact]
    public async Task BlockServe_NonLoopbackTcpWithoutAllowRemote_RefusedWithOneErrorLine()
    {
        string image = _directory.Combine("d.img");
        await using var accel = AccelProcess.Start("block", "serve", "file:" + image, "--nbd", $"tcp://0.0.0.0:{LoopbackPorts.Free()}", "--writable");

        int code = await accel.WaitForExitAsync(TimeSpan.FromMinutes(1));

        Assert.Equal(1, code);
        Assert.Single(accel.Error.Trim().Split('\n'));
        Assert.Contains("--allow-remote", accel.Error, StringComparison.Ordinal);
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        for (int i = 0; i < 600 && !condition(); i++)
        {
            await Task.Delay(50);
        }

        Assert.True(condition());
    }
}
