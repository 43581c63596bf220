using System.Runtime.InteropServices;
using System.Text;
using Accelerator.Fuse.FileSystem;
using Accelerator.Fuse.Protocol;
using Accelerator.Fuse.Tests.Support;
using Accelerator.Linux;
using Accelerator.Testing.Trees;

namespace Accelerator.Fuse.Tests;

/// <summary>The source tree of <see cref="FuseTakeoverTests"/> and its index, built once.</summary>
public sealed class TakeoverSourceFixture : IDisposable
{
    internal const int DirectoryEntries = 2000;
    private readonly MountScratch _scratch = new();

    public TakeoverSourceFixture()
    {
        Hung = MountScratch.RandomBytes(300_000, 7);
        _scratch.WriteFile("hung", Hung);
        _scratch.WriteFile("small", "small\n"u8.ToArray());
        for (int i = 0; i < DirectoryEntries; i++)
        {
            _scratch.WriteFile($"many/{EntryName(i)}", []);
        }

        Index = DirectoryChunkIndex.Build(_scratch.Source);
    }

    public byte[] Hung { get; }

    internal DirectoryChunkIndex Index { get; }

    // Long names: a READDIR page holds few, so a listing takes many.
    internal static string EntryName(int i) => $"a-rather-long-entry-name-so-that-a-listing-takes-many-pages-{i:D4}";

    public void Dispose()
    {
        Index.Dispose();
        _scratch.Dispose();
    }
}

/// <summary>
/// A takeover on real mounts, within one process: session A serves a mount, stops reading and leaves it mounted;
/// session B resumes the connection on a copy of A's descriptor. What A read and did not answer is resent by the
/// kernel (Linux 6.9+) and answered by B; a directory being listed carries on.
/// </summary>
public sealed class FuseTakeoverTests(TakeoverSourceFixture source) : IClassFixture<TakeoverSourceFixture>, IDisposable
{
    private readonly MountScratch _scratch = new();
    private readonly byte[] _hung = source.Hung;
    private readonly DirectoryChunkIndex _index = source.Index;

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public async Task MountAsync_ThisKernel_OffersResend()
    {
        await using var mount = await MountAsync(new DirectoryContentReader(_index));

        var connection = mount.Session.Connection!;

        // Linux 6.10+ announces FUSE_HAS_RESEND (this machine runs 6.18, protocol 7.45).
        Assert.True((connection.KernelFlags & FuseInitFlags.HasResend) != 0, connection.KernelFlags.ToString());
        Assert.True(connection.KernelCanResend);
    }

    [Fact]
    public async Task ResumeAsync_ReadBlockedInThePredecessor_CompletesThroughTheSuccessor()
    {
        var gate = new GatedContentReader(new DirectoryContentReader(_index), _index.Lookup(1, "hung")!.Inode, honoursCancellation: true);
        var a = await MountAsync(gate);
        Task<byte[]> reader;
        SafeHandleCopy copy;
        try
        {
            reader = Task.Factory.StartNew(() => File.ReadAllBytes(Path.Combine(a.MountPoint, "hung")), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            await gate.Entered;
            copy = new SafeHandleCopy(a);

            // A hands over with the read in flight: it stops reading, gives the read its short stop timeout, and
            // leaves it unanswered in the kernel's processing queue.
            a.LeaveMounted();
        }
        finally
        {
            await a.DisposeAsync();
        }

        // Every reader of A left (woken by a retrieve of the file it had open), yet the mount is there.
        Assert.True(a.Session.Completion.IsCompletedSuccessfully);
        Assert.True(MountTable.IsMountPoint(_scratch.MountPoint));
        Assert.False(reader.IsCompleted);
        await using var b = await FuseMount.ResumeAsync(a.MountPoint, copy.Device, copy.Connection, copy.DeviceMinor, new ChunkIndexFileSystem(_index, new DirectoryContentReader(_index)), Options());

        Assert.Equal(_hung, await reader.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.True(b.Session.Statistics.ResentRequests >= 1, $"{b.Session.Statistics.ResentRequests} resent");
        Assert.Equal("small\n", await File.ReadAllTextAsync(Path.Combine(b.MountPoint, "small")));
        Assert.True(gate.Cancelled >= 1, "A's backend read was not cancelled when A was disposed");
    }

    [Fact]
    public async Task ResumeAsync_DirectoryListedAcrossTheHandover_ListingIsComplete()
    {
        var a = await MountAsync(new DirectoryContentReader(_index));
        SafeHandleCopy copy;
        using var listing = new DirectoryListing(Path.Combine(a.MountPoint, "many"), 1024);
        var names = new List<string>();
        try
        {
            // A few pieces through A: the kernel keeps A's directory handle and the offset reached.
            for (int i = 0; i < 3; i++)
            {
                names.AddRange(listing.Next());
            }

            copy = new SafeHandleCopy(a);
            a.LeaveMounted();
        }
        finally
        {
            await a.DisposeAsync();
        }

        // No file was open: A's readers were woken by statfs of the mount point.
        Assert.True(a.Session.Completion.IsCompletedSuccessfully);
        await using var b = await FuseMount.ResumeAsync(a.MountPoint, copy.Device, copy.Connection, copy.DeviceMinor, new ChunkIndexFileSystem(_index, new DirectoryContentReader(_index)), Options());
        for (var piece = listing.Next(); piece.Count > 0; piece = listing.Next())
        {
            names.AddRange(piece);
        }

        listing.Dispose();

        var expected = new[] { ".", ".." }.Concat(Enumerable.Range(0, TakeoverSourceFixture.DirectoryEntries).Select(TakeoverSourceFixture.EntryName));
        Assert.Equal(expected.Order(StringComparer.Ordinal), names.Order(StringComparer.Ordinal));
        Assert.True(b.Session.Statistics.RebuiltListings >= 1, "B never saw A's directory handle");
    }

    [Fact]
    public async Task StopReadingAsync_MountStaysAlive_ALaterResumeServesIt()
    {
        // A's INIT settles a larger max_write than B's options say: B must still read with a buffer the kernel takes.
        var larger = Options();
        larger.Session.MaxWrite = 1024 * 1024;
        await using var a = await MountAsync(new DirectoryContentReader(_index), larger);
        a.LeaveMounted();

        await a.Session.StopReadingAsync().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(a.Session.Completion.IsCompletedSuccessfully);
        Assert.True(MountTable.IsMountPoint(_scratch.MountPoint));

        // A read issued while nobody serves waits in the kernel, and is answered once B resumes.
        var reader = Task.Factory.StartNew(() => File.ReadAllBytes(Path.Combine(a.MountPoint, "hung")), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        var copy = new SafeHandleCopy(a);
        await using var b = await FuseMount.ResumeAsync(a.MountPoint, copy.Device, copy.Connection, copy.DeviceMinor, new ChunkIndexFileSystem(_index, new DirectoryContentReader(_index)), Options());

        Assert.Equal(_hung, await reader.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Equal("small\n", await File.ReadAllTextAsync(Path.Combine(b.MountPoint, "small")));
        Assert.Equal(0, a.Session.Statistics.GetRequestCount(FuseOpcode.Read));
    }

    [Fact]
    public async Task ResumeAsync_WrongDeviceMinor_ThrowsAndLeavesTheMountAlone()
    {
        await using var a = await MountAsync(new DirectoryContentReader(_index));
        var copy = new SafeHandleCopy(a);

        var error = await Assert.ThrowsAsync<IOException>(() => FuseMount.ResumeAsync(a.MountPoint, copy.Device, copy.Connection, copy.DeviceMinor + 1000, new ChunkIndexFileSystem(_index, new DirectoryContentReader(_index)), Options()));

        Assert.Contains("is not the fuse.accel mount", error.Message, StringComparison.Ordinal);
        Assert.True(copy.Device.IsClosed);
        Assert.Equal("small\n", await File.ReadAllTextAsync(Path.Combine(a.MountPoint, "small")));
    }

    [Fact]
    public async Task ResumeAsync_ConnectionEnded_Throws()
    {
        var a = await MountAsync(new DirectoryContentReader(_index));
        var copy = new SafeHandleCopy(a);
        string mountPoint = a.MountPoint;
        a.Abort();
        await a.Completion.WaitAsync(TimeSpan.FromSeconds(30));

        try
        {
            var error = await Assert.ThrowsAsync<IOException>(() => FuseMount.ResumeAsync(mountPoint, copy.Device, copy.Connection, copy.DeviceMinor, new ChunkIndexFileSystem(_index, new DirectoryContentReader(_index)), Options()));
            Assert.Contains("has ended", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            await a.DisposeAsync();
        }
    }

    private static FuseMountOptions Options() => new() { Session = { StopTimeout = TimeSpan.FromMilliseconds(200) } };

    private Task<FuseMount> MountAsync(IFileContentReader content, FuseMountOptions? options = null)
        => FuseMount.MountAsync(_scratch.MountPoint, new ChunkIndexFileSystem(_index, content), options ?? Options());

    /// <summary>What a holder keeps of a mount: a copy of its descriptor and what INIT settled.</summary>
    private sealed class SafeHandleCopy(FuseMount mount)
    {
        public Microsoft.Win32.SafeHandles.SafeFileHandle Device { get; } = mount.DuplicateDevice();

        public FuseConnectionInfo Connection { get; } = FuseConnectionInfo.FromJson(mount.Session.Connection!.ToJson());

        public uint DeviceMinor { get; } = mount.DeviceMinor;
    }

    /// <summary>A directory read with getdents64(2) in pieces, as ls does, on one open descriptor.</summary>
    private sealed class DirectoryListing : IDisposable
    {
        private readonly int _fd;
        private readonly byte[] _buffer;
        private bool _closed;

        public DirectoryListing(string path, int bufferSize)
        {
            _fd = LibC.Open(path, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_CLOEXEC);
            if (_fd < 0)
            {
                throw new IOException($"open '{path}': errno {Marshal.GetLastPInvokeError()}");
            }

            _buffer = new byte[bufferSize];
        }

        public List<string> Next()
        {
            nint n = LibC.GetDents64(_fd, _buffer);
            if (n < 0)
            {
                throw new IOException($"getdents64: errno {Marshal.GetLastPInvokeError()}");
            }

            // struct linux_dirent64 { u64 d_ino; s64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }
            var names = new List<string>();
            for (int at = 0; at < n;)
            {
                int length = BitConverter.ToUInt16(_buffer, at + 16);
                int end = Array.IndexOf(_buffer, (byte)0, at + 19, length - 19);
                names.Add(Encoding.UTF8.GetString(_buffer, at + 19, end - (at + 19)));
                at += length;
            }

            return names;
        }

        public void Dispose()
        {
            if (!_closed)
            {
                _closed = true;
                LibC.Close(_fd);
            }
        }
    }
}
