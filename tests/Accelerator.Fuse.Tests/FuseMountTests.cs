using System.Diagnostics;
using Accelerator.Fuse.FileSystem;
using Accelerator.Fuse.Protocol;
using Accelerator.Fuse.Tests.Support;
using Accelerator.Linux;
using Accelerator.Testing.Images;

namespace Accelerator.Fuse.Tests;

/// <summary>Behaviour of real FUSE mounts beyond the conformance suite: negotiation, large reads, hung and dead backends, unmounting.</summary>
public sealed class FuseMountTests : IDisposable
{
    private const int FourMebibytes = 4 * 1024 * 1024;
    private readonly MountScratch _scratch = new();
    private readonly byte[] _big;
    private readonly byte[] _hung;

    public FuseMountTests()
    {
        _big = MountScratch.RandomBytes(FourMebibytes, 1);
        _scratch.WriteFile("big", _big);
        _hung = MountScratch.RandomBytes(300_000, 2);
        _scratch.WriteFile("hung", _hung);
        _scratch.WriteFile("small", "small\n"u8.ToArray());
    }

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public async Task MountAsync_Kernel_NegotiatesLargeAsyncReadsAndParallelDirops()
    {
        await using var mount = await DirectoryMount.MountAsync(_scratch.Source, _scratch.MountPoint);

        var connection = mount.Mount.Session.Connection!;

        Assert.Equal(FuseProtocol.KernelVersion, connection.KernelMajor);
        Assert.Equal(Math.Min(connection.KernelMinor, FuseProtocol.MinorVersion), connection.Minor);
        Assert.True(connection.Has(FuseInitFlags.AsyncRead | FuseInitFlags.ParallelDirops | FuseInitFlags.MaxPages), connection.Flags.ToString());
        Assert.True(connection.MaxRead >= 1024 * 1024, $"max read {connection.MaxRead}");
    }

    [Fact]
    public async Task Read_FourMebibytes_ArrivesInReadsOfOneMebibyte()
    {
        await using var mount = await DirectoryMount.MountAsync(_scratch.Source, _scratch.MountPoint);

        byte[] read = await File.ReadAllBytesAsync(mount["big"]);

        Assert.Equal(_big, read);
        long large = mount.Statistics.CountReadRequests(1024 * 1024);
        Assert.True(large >= 3, $"{large} of {mount.Statistics.ReadRequests} READs were ≥ 1 MiB (largest {mount.Statistics.LargestReadRequest})");
        Assert.Equal(1024 * 1024, mount.Statistics.LargestReadRequest);
    }

    [Fact]
    public async Task Read_DirectIo_ReturnsSourceBytes()
    {
        await using var mount = await DirectoryMount.MountAsync(_scratch.Source, _scratch.MountPoint);
        string copy = Path.Combine(_scratch.Root, "copy");

        await ExternalTool.RunAsync("dd", [$"if={mount["big"]}", $"of={copy}", "bs=1M", "iflag=direct", "status=none"]);

        Assert.Equal(_big, await File.ReadAllBytesAsync(copy));
    }

    [Fact]
    public async Task Read_HungBackendWithTimeout_ReaderGetsEioAndSessionStaysUsable()
    {
        GatedContentReader? gate = null;
        var options = new FuseMountOptions { Session = { RequestTimeout = TimeSpan.FromMilliseconds(300) } };
        await using var mount = await DirectoryMount.MountAsync(_scratch.Source, _scratch.MountPoint, options, index =>
            gate = new GatedContentReader(new DirectoryContentReader(index), index.Lookup(1, "hung")!.Inode, honoursCancellation: false));
        try
        {
            var failure = await Assert.ThrowsAsync<IOException>(() => File.ReadAllBytesAsync(mount["hung"]));

            Assert.Equal(Errno.EIO, failure.HResult);
            Assert.True((await gate!.Entered).IsCancellationRequested, "the backend's read was not cancelled");
            Assert.True(mount.Statistics.TimedOutReads >= 1);
            Assert.Equal("small\n", await File.ReadAllTextAsync(mount["small"]));
            Assert.Equal(_big, await File.ReadAllBytesAsync(mount["big"]));
        }
        finally
        {
            gate?.Release();
        }
    }

    [Fact]
    public async Task Abort_BackendNeverAnswers_BlockedReaderFailsAndMountUnmounts()
    {
        GatedContentReader? gate = null;
        var mount = await DirectoryMount.MountAsync(_scratch.Source, _scratch.MountPoint, null, index =>
            gate = new GatedContentReader(new DirectoryContentReader(index), index.Lookup(1, "hung")!.Inode, honoursCancellation: true));
        try
        {
            var reader = Task.Factory.StartNew(() => File.ReadAllBytes(mount["hung"]), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            await gate!.Entered;

            mount.Mount.Abort();

            var failure = await Assert.ThrowsAnyAsync<IOException>(() => reader);
            Assert.Equal(Errno.ENOTCONN, failure.HResult);
            await mount.Mount.Completion.WaitAsync(TimeSpan.FromSeconds(30));
            await gate.FirstCancellation.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(1, gate.Cancelled);
        }
        finally
        {
            await mount.DisposeAsync();
            gate?.Release();
        }

        Assert.False(MountTable.IsMountPoint(_scratch.MountPoint));
    }

    [Fact]
    public async Task Interrupt_ReaderSignalledDuringHungRead_ReadIsCancelled()
    {
        GatedContentReader? gate = null;
        await using var mount = await DirectoryMount.MountAsync(_scratch.Source, _scratch.MountPoint, null, index =>
            gate = new GatedContentReader(new DirectoryContentReader(index), index.Lookup(1, "hung")!.Inode, honoursCancellation: true));
        try
        {
            // A direct read waits for its answer interruptibly, so a signal makes the kernel send INTERRUPT. dd keeps an
            // inherited ignored SIGINT ignored: start it with the default, whatever the test runner ignores.
            using var dd = Process.Start(SignalledChild.WithDefaultSignals("dd", $"if={mount["hung"]}", "of=/dev/null", "bs=4096", "count=1", "iflag=direct"))!;
            await gate!.Entered;

            TestSyscalls.Kill(dd.Id, TestSyscalls.SIGINT);
            await dd.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));

            Assert.NotEqual(0, dd.ExitCode);
            await gate.FirstCancellation.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(1, gate.Cancelled);
            Assert.Equal(1, mount.Statistics.Interrupts);
            Assert.Equal("small\n", await File.ReadAllTextAsync(mount["small"]));
        }
        finally
        {
            gate?.Release();
        }
    }

    [Fact]
    public async Task Unmount_FileOpen_DetachesAndServesTheOpenFileUntilClosed()
    {
        await using var mount = await DirectoryMount.MountAsync(_scratch.Source, _scratch.MountPoint);
        var open = new FileStream(mount["big"], FileMode.Open, FileAccess.Read, FileShare.Read, 1);
        try
        {
            bool outright = mount.Mount.Unmount();

            Assert.False(outright);
            Assert.False(MountTable.IsMountPoint(_scratch.MountPoint));
            byte[] read = new byte[_big.Length];
            open.ReadExactly(read);
            Assert.Equal(_big, read);
            Assert.False(mount.Mount.Completion.IsCompleted);
        }
        finally
        {
            await open.DisposeAsync();
        }

        await mount.Mount.Completion.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task DisposeAsync_Mounted_UnmountsAndEndsTheSession()
    {
        var mount = await DirectoryMount.MountAsync(_scratch.Source, _scratch.MountPoint);
        Assert.True(MountTable.IsMountPoint(_scratch.MountPoint));
        Assert.Equal("small\n", await File.ReadAllTextAsync(mount["small"]));

        await mount.DisposeAsync();

        Assert.False(MountTable.IsMountPoint(_scratch.MountPoint));
        Assert.True(mount.Mount.Completion.IsCompletedSuccessfully);
        Assert.False(File.Exists(Path.Combine(_scratch.MountPoint, "small")));
    }

    [Fact]
    public async Task MountAsync_Mountinfo_ShowsReadOnlyNosuidNodevFuseAccelWithItsDevice()
    {
        await using var mount = await DirectoryMount.MountAsync(_scratch.Source, _scratch.MountPoint);

        string line = File.ReadAllLines("/proc/self/mountinfo").Last(l => l.Contains($" {_scratch.MountPoint} ", StringComparison.Ordinal));
        string device = (await ExternalTool.RunAsync("stat", ["-c", "%Hd:%Ld", _scratch.MountPoint])).Trim();

        Assert.Contains(" ro,nosuid,nodev", line, StringComparison.Ordinal);
        Assert.Contains(" - fuse.accel accel ro,", line, StringComparison.Ordinal);
        Assert.Contains("allow_other", line, StringComparison.Ordinal);
        Assert.Equal($"{mount.Mount.DeviceMajor}:{mount.Mount.DeviceMinor}", device);
        Assert.True(Directory.Exists($"/sys/fs/fuse/connections/{mount.Mount.ConnectionId}") || !Directory.EnumerateFileSystemEntries("/sys/fs/fuse/connections").Any());
    }

    [Fact]
    public async Task Access_WithoutDefaultPermissions_IsAnsweredByTheFileSystem()
    {
        await using var mount = await DirectoryMount.MountAsync(_scratch.Source, _scratch.MountPoint, new FuseMountOptions { DefaultPermissions = false });

        Assert.Equal(0, TestSyscalls.Access(mount["small"], TestSyscalls.R_OK));
        Assert.Equal(TestSyscalls.EACCES, TestSyscalls.Access(mount["small"], TestSyscalls.X_OK));
        Assert.Equal(TestSyscalls.EROFS, TestSyscalls.Access(mount["small"], TestSyscalls.W_OK));
        Assert.True(mount.Statistics.GetRequestCount(FuseOpcode.Access) >= 2);
    }

    [Fact]
    public async Task OpenRelease_ManyTimes_EveryOpenIsReleased()
    {
        await using var mount = await DirectoryMount.MountAsync(_scratch.Source, _scratch.MountPoint);

        for (int i = 0; i < 300; i++)
        {
            using var stream = File.OpenRead(mount["small"]);
            Assert.Equal((byte)'s', (byte)stream.ReadByte());
            _ = Directory.GetFiles(mount.Mount.MountPoint);
        }

        // RELEASE is sent asynchronously after close(2) returns.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((mount.Statistics.OpenFiles != 0 || mount.Statistics.OpenDirectories != 0) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        Assert.Equal((0L, 0L), (mount.Statistics.OpenFiles, mount.Statistics.OpenDirectories));
        Assert.Equal(300, mount.Statistics.GetRequestCount(FuseOpcode.Open));
        Assert.Equal(300, mount.Statistics.GetRequestCount(FuseOpcode.Release));
    }

    [Fact]
    public async Task MountAsync_MissingMountPoint_ThrowsDirectoryNotFound()
    {
        using var index = Accelerator.Testing.Trees.DirectoryChunkIndex.Build(_scratch.Source);
        var fileSystem = new ChunkIndexFileSystem(index, new DirectoryContentReader(index));

        await Assert.ThrowsAsync<DirectoryNotFoundException>(() => FuseMount.MountAsync(Path.Combine(_scratch.Root, "nope"), fileSystem));
    }

    [Fact]
    public async Task MountAsync_InvalidOptions_ThrowsArgumentException()
    {
        using var index = Accelerator.Testing.Trees.DirectoryChunkIndex.Build(_scratch.Source);
        var fileSystem = new ChunkIndexFileSystem(index, new DirectoryContentReader(index));
        var options = new FuseMountOptions { Subtype = "bad type", Session = { MaxRead = 100 } };

        var error = await Assert.ThrowsAsync<ArgumentException>(() => FuseMount.MountAsync(_scratch.MountPoint, fileSystem, options));

        Assert.Contains("MaxRead", error.Message, StringComparison.Ordinal);
        Assert.False(MountTable.IsMountPoint(_scratch.MountPoint));
    }
}
