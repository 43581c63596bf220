using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using Accelerator.Fuse.Protocol;
using Accelerator.Fuse.Takeover;
using Accelerator.Fuse.Tests.Support;
using Accelerator.Fuse.Tests.TestHost;
using Accelerator.Linux;
using Accelerator.Testing.Host;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Microsoft.Win32.SafeHandles;

namespace Accelerator.Fuse.Tests.Takeover;

/// <summary>The FUSE descriptor holder with real mounts: deposit, claim, release, unmount, refusals, idle exit.</summary>
public sealed class FuseHolderTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly MountScratch _scratch = new();
    private readonly string _directory;
    private readonly ListLogger<FuseHolder> _log = new();

    public FuseHolderTests()
    {
        _directory = Path.Combine(_scratch.Root, "holder");
    }

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public async Task Claim_OwnerIgnoresRelease_OwnerKilledAndClaimantServesTheLiveMount()
    {
        await using var holder = await RunningHolder.StartAsync(_directory, _log);
        _scratch.WriteFile("file", "served\n"u8.ToArray());
        using var host = await StartHeldMountHostAsync("/mnt/held");
        await using var claimant = await FuseHolderClient.ConnectAsync(_directory);
        var listed = Assert.Single(await claimant.ListAsync());
        Assert.Equal(("/mnt/held", host.Id, $"served-by:{host.Id}"), (listed.Key, listed.OwnerPid, listed.State));

        var claimed = await claimant.ClaimAsync("/mnt/held", TimeSpan.FromMilliseconds(200));

        Assert.NotNull(claimed);
        using var device = claimed.Device;
        // The holder killed it (it ignored the release): the claim was answered once its connection closed at its death.
        await host.WaitForExitAsync().WaitAsync(Patience);
        Assert.Equal(128 + LibC.SIGKILL, host.ExitCode);
        Assert.Equal(host.Id, claimed.PredecessorPid);
        Assert.Equal($"served-by:{host.Id}", claimed.State);
        Assert.Contains(_log.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains($"Process {host.Id} did not release /mnt/held", StringComparison.Ordinal));

        // The serving process is gone (its descriptor closed): the holder's copy kept the connection, and the claimed one
        // reads the next request and answers it.
        var lookup = Task.Factory.StartNew(() => File.Exists(Path.Combine(_scratch.MountPoint, "asked-after-the-crash")), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        try
        {
            var (opcode, unique, name) = ReadRequest(device);
            Assert.Equal((FuseOpcode.Lookup, "asked-after-the-crash"), (opcode, name));
            Reply(device, unique, -Errno.ENOENT);
            Assert.False(await lookup.WaitAsync(Patience));
            Assert.Equal(("/mnt/held", (int?)Environment.ProcessId), (Assert.Single(await claimant.ListAsync()).Key, Assert.Single(await claimant.ListAsync()).OwnerPid));
        }
        finally
        {
            Assert.Equal(0, LibC.Umount2(_scratch.MountPoint, UnmountFlags.Detach));
        }

        // Unmounted: the connection ends, the holder sees POLLERR on its copy and drops the entry.
        await WaitUntilAsync(() => holder.Holder.HeldCount == 0, "the unmounted connection was not dropped");
        Assert.Empty(await claimant.ListAsync());
    }

    [Fact]
    public async Task Claim_OwnerConnected_ReleaseRequestedAndClaimAnsweredAfterOwnerClosed()
    {
        await using var holder = await RunningHolder.StartAsync(_directory, _log);
        using var mount = BareFuseMount.Mount(_scratch.MountPoint);
        var owner = await FuseHolderClient.ConnectAsync(_directory);
        var released = new TaskCompletionSource<IReadOnlyList<string>>(TaskCreationOptions.RunContinuationsAsynchronously);
        owner.ReleaseRequested = async keys =>
        {
            released.TrySetResult(keys);
            await owner.DisposeAsync();
        };
        await owner.DepositAsync("key-a", mount.Device, "{\"generation\":1}");
        await using var claimant = await FuseHolderClient.ConnectAsync(_directory);

        var claimed = await claimant.ClaimAsync("key-a", Patience);

        Assert.NotNull(claimed);
        using var device = claimed.Device;
        Assert.Equal(["key-a"], await released.Task);
        Assert.True(owner.Completion.IsCompleted, "the claim was answered before the owner's connection closed");
        Assert.Equal(("{\"generation\":1}", (int?)Environment.ProcessId), (claimed.State, claimed.PredecessorPid));

        // The claimed descriptor is this mount's connection: the INIT nobody answered is waiting in it.
        mount.Device.Dispose();
        var (opcode, _, _) = ReadRequest(device);
        Assert.Equal(FuseOpcode.Init, opcode);
        Assert.Equal((int?)Environment.ProcessId, Assert.Single(await claimant.ListAsync()).OwnerPid);
        Assert.True(await claimant.ForgetAsync("key-a"));
        Assert.Empty(await claimant.ListAsync());
        Assert.False(await claimant.ForgetAsync("key-a"));
    }

    [Fact]
    public async Task Claim_OwnerInThisProcessIgnoresRelease_OwnerDisconnectedNotKilled()
    {
        await using var holder = await RunningHolder.StartAsync(_directory, _log);
        using var mount = BareFuseMount.Mount(_scratch.MountPoint);
        await using var owner = await FuseHolderClient.ConnectAsync(_directory);
        await owner.DepositAsync("key", mount.Device, "state");
        await using var claimant = await FuseHolderClient.ConnectAsync(_directory);

        var claimed = await claimant.ClaimAsync("key", TimeSpan.FromMilliseconds(100));

        Assert.NotNull(claimed);
        claimed.Device.Dispose();
        await owner.Completion.WaitAsync(Patience);
        Assert.Contains(_log.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("(this process or the claimant's) did not release key", StringComparison.Ordinal));
        await Assert.ThrowsAnyAsync<FuseHolderException>(() => owner.ListAsync());
    }

    [Fact]
    public async Task Deposit_KeyHeldForAnother_RefusedUntilClaimed()
    {
        await using var holder = await RunningHolder.StartAsync(_directory, _log);
        using var mount = BareFuseMount.Mount(_scratch.MountPoint);
        await using var first = await FuseHolderClient.ConnectAsync(_directory);
        await using var second = await FuseHolderClient.ConnectAsync(_directory);
        await first.DepositAsync("key", mount.Device, "one");

        var refused = await Assert.ThrowsAsync<FuseHolderException>(() => second.DepositAsync("key", mount.Device, "two"));

        Assert.Contains($"held for process {Environment.ProcessId}; claim it first", refused.Message, StringComparison.Ordinal);
        await first.DepositAsync("key", mount.Device, "one, again");
        Assert.Equal("one, again", Assert.Single(await second.ListAsync()).State);
        Assert.Null(await second.ClaimAsync("other-key", TimeSpan.Zero));
    }

    [Fact]
    public async Task Claim_OwnerGone_EntryKeptWithoutOwnerAndHandedOverAtOnce()
    {
        await using var holder = await RunningHolder.StartAsync(_directory, _log);
        using var mount = BareFuseMount.Mount(_scratch.MountPoint);
        await using (var owner = await FuseHolderClient.ConnectAsync(_directory))
        {
            await owner.DepositAsync("key", mount.Device, "state");
        }

        mount.Device.Dispose();
        await using var claimant = await FuseHolderClient.ConnectAsync(_directory);
        await WaitUntilAsync(async () => await claimant.ListAsync() is [{ OwnerPid: null }], "the owner's connection did not end");

        var claimed = await claimant.ClaimAsync("key", TimeSpan.Zero);

        Assert.NotNull(claimed);
        using var device = claimed.Device;
        Assert.Equal(("state", (int?)Environment.ProcessId), (claimed.State, claimed.PredecessorPid));
        Assert.Equal(FuseOpcode.Init, ReadRequest(device).Opcode);
    }

    [Fact]
    public async Task Connect_SocketPathTooLong_ClearError()
    {
        string directory = Path.Combine(_scratch.Root, new string('d', 120));

        var refused = await Assert.ThrowsAsync<FuseHolderException>(() => FuseHolderClient.ConnectAsync(directory));

        Assert.Contains("longer than a unix socket address allows", refused.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new FuseHolder(new FuseHolderOptions { Directory = directory }));
    }

    [Fact]
    public async Task Deposit_NotFuseDevice_Refused()
    {
        await using var holder = await RunningHolder.StartAsync(_directory, _log);
        await using var client = await FuseHolderClient.ConnectAsync(_directory);
        using var file = File.OpenHandle(Path.Combine(_scratch.Root, "plain"), FileMode.Create, FileAccess.ReadWrite);

        var refused = await Assert.ThrowsAsync<FuseHolderException>(() => client.DepositAsync("key", file, "state"));

        Assert.Contains("not /dev/fuse", refused.Message, StringComparison.Ordinal);
        Assert.Empty(await client.ListAsync());
    }

    [Fact]
    public async Task Listen_DirectoryAndSocket_PrivateAndOneHolderPerDirectory()
    {
        await using var holder = await RunningHolder.StartAsync(_directory, _log);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(_directory));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(holder.Holder.SocketPath));
        Assert.False(await new FuseHolder(new FuseHolderOptions { Directory = _directory }).RunAsync());
        await using var client = await FuseHolderClient.ConnectAsync(_directory);
        Assert.Equal(Environment.ProcessId, client.HolderPid);
    }

    [Fact]
    public async Task Connect_PeerOfAnotherUser_DisconnectedWithWarning()
    {
        string parent = UnprivilegedUser.CreateTraversableDirectory("accel-holder-uid-");
        try
        {
            string directory = Path.Combine(parent, "holder");
            await using var holder = await RunningHolder.StartAsync(directory, _log);
            // Open the way on purpose, so that only the holder's own check stands between nobody and the holder.
            File.SetUnixFileMode(directory, (UnixFileMode)0x1ED);
            File.SetUnixFileMode(holder.Holder.SocketPath, (UnixFileMode)0x1B6);
            const string Script = """
                import socket, struct, sys
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(sys.argv[1])
                body = b'{"type":"list"}'
                try:
                    s.sendall(struct.pack('<II', 1, len(body)) + body)
                    answer = s.recv(4096)
                except (ConnectionResetError, BrokenPipeError):
                    answer = b''
                sys.exit(0 if answer == b'' else 3)
                """;

            var (exitCode, error) = await UnprivilegedUser.RunAsync("/usr/bin/python3", "-c", Script, holder.Holder.SocketPath);

            Assert.True(exitCode == 0, $"the connection of nobody was not closed unanswered (exit {exitCode}): {error}");
            Assert.Contains(_log.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains($"runs as uid {UnprivilegedUser.Id}", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(parent, recursive: true);
        }
    }

    [Fact]
    public async Task Request_Oversized_RefusedWithOneClearErrorAndClosed()
    {
        await using var holder = await RunningHolder.StartAsync(_directory, _log);
        await using var client = await FuseHolderClient.ConnectAsync(_directory);
        using var raw = DescriptorSocket.Connect(holder.Holder.SocketPath);
        byte[] header = new byte[FuseHolderProtocol.HeaderSize];
        BinaryPrimitives.WriteUInt32LittleEndian(header, FuseHolderProtocol.Version);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(4), 2 * 1024 * 1024);

        raw.Send(header);

        using var channel = new FuseHolderChannel(raw);
        var error = channel.Receive(out var descriptor);
        Assert.Null(descriptor);
        Assert.Equal((FuseHolderProtocol.Types.Error, "A holder message of 2097152 bytes exceeds the limit of 1048576 bytes."), (error!.Type, error.Error));
        Assert.Null(channel.Receive(out _));
        await Assert.ThrowsAsync<ArgumentException>(() => client.DepositAsync(new string('k', 4097), new SafeFileHandle(), "state"));
        await Assert.ThrowsAsync<ArgumentException>(() => client.DepositAsync("key", new SafeFileHandle(), new string('s', (64 * 1024) + 1)));
        Assert.Empty(await client.ListAsync());
    }

    [Fact]
    public async Task Request_KeyTooLongOnTheWire_Refused()
    {
        await using var holder = await RunningHolder.StartAsync(_directory, _log);
        using var channel = new FuseHolderChannel(DescriptorSocket.Connect(holder.Holder.SocketPath));

        channel.Send(new HolderMessage { Type = FuseHolderProtocol.Types.Forget, Key = new string('é', 2049) });

        var reply = channel.Receive(out _);
        Assert.Equal((FuseHolderProtocol.Types.Error, "The key is 4098 bytes long; at most 4096 are allowed."), (reply!.Type, reply.Error));
    }

    [Fact]
    public async Task Request_MutatedFrames_AnsweredOrClosedAndHolderKeepsServing()
    {
        await using var holder = await RunningHolder.StartAsync(_directory, _log);
        using var mount = BareFuseMount.Mount(_scratch.MountPoint);
        await using var owner = await FuseHolderClient.ConnectAsync(_directory);
        await owner.DepositAsync("kept", mount.Device, "state");
        byte[][] seeds =
        [
            .. new HolderMessage[]
            {
                new() { Type = FuseHolderProtocol.Types.Hello },
                new() { Type = FuseHolderProtocol.Types.List, After = "a" },
                new() { Type = FuseHolderProtocol.Types.Forget, Key = "other" },
                new() { Type = FuseHolderProtocol.Types.Deposit, Key = "other", State = "{}" },
                new() { Type = FuseHolderProtocol.Types.Claim, Key = "other", ReleaseTimeoutMilliseconds = 0 },
            }.Select(FuseHolderProtocol.Encode),
        ];
        var random = new Random(1506);

        for (int i = 0; i < 300; i++)
        {
            byte[] input = Accelerator.Testing.Fuzzing.FuzzInput.Mutate(seeds[random.Next(seeds.Length)], random);
            using var channel = new FuseHolderChannel(DescriptorSocket.Connect(holder.Holder.SocketPath));
            channel.Socket.Send(input);
            channel.Socket.ShutdownSend();

            // Every answer is a well-formed frame, and the stream ends (at the end of the input or at its first bad frame).
            for (int replies = 0; channel.Receive(out var descriptor) is { } reply; replies++)
            {
                descriptor?.Dispose();
                Assert.True(replies < 64, "the holder kept answering");
                Assert.NotEqual(FuseHolderProtocol.Types.Claimed, reply.Type);
            }
        }

        var kept = Assert.Single(await owner.ListAsync());
        Assert.Equal(("kept", (int?)Environment.ProcessId, "state"), (kept.Key, kept.OwnerPid, kept.State));
    }

    [Fact]
    public async Task RunAsync_IdleWithNothingHeld_Exits()
    {
        var time = new FakeTimeProvider();
        await using var holder = await RunningHolder.StartAsync(_directory, _log, TimeSpan.FromSeconds(10), time);
        using var mount = BareFuseMount.Mount(_scratch.MountPoint);
        await using (var owner = await FuseHolderClient.ConnectAsync(_directory))
        {
            await owner.DepositAsync("key", mount.Device, "state");
        }

        await WaitUntilAsync(() => _log.Entries.Any(e => e.Message.Contains("Holder client disconnected", StringComparison.Ordinal)), "the owner's disconnection was not seen");

        // Its owner is gone but the connection is held (waiting for a claimant): no idle exit.
        time.Advance(TimeSpan.FromMinutes(5));
        Assert.False(holder.Holder.Stopping.IsCompleted);
        mount.Unmount();
        await WaitUntilAsync(() => holder.Holder.HeldCount == 0, "the unmounted connection was not dropped");
        time.Advance(TimeSpan.FromSeconds(10));

        Assert.True(await holder.Run.WaitAsync(Patience));
        Assert.False(File.Exists(holder.Holder.SocketPath));
    }

    private async Task<Process> StartHeldMountHostAsync(string key)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in (string[])[typeof(MountHostProgram).Assembly.Location, HeldMountHost.Command, _scratch.Source, _scratch.MountPoint, _directory, key])
        {
            start.ArgumentList.Add(argument);
        }

        var host = Process.Start(start)!;
        string? ready = await host.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60));
        if (ready != "ready")
        {
            host.Kill();
            Assert.Fail($"host said '{ready}': {await host.StandardError.ReadToEndAsync()}");
        }

        return host;
    }

    // Reads one request from the device (waiting for it): its opcode, unique and, for a LOOKUP, the name.
    private static (FuseOpcode Opcode, ulong Unique, string? Name) ReadRequest(SafeFileHandle device)
    {
        int fd = (int)device.DangerousGetHandle();
        Span<PollDescriptor> poll = [new PollDescriptor { Fd = fd, Events = LibC.POLLIN }];
        Assert.Equal(1, LibC.Poll(poll, (int)Patience.TotalMilliseconds));
        byte[] buffer = new byte[FuseProtocol.MinReadBuffer + (1024 * 1024)];
        int n = LibC.Read(fd, buffer);
        Assert.True(n >= 40, $"read of the device gave {n}");

        // struct fuse_in_header: len, opcode, unique, nodeid, uid, gid, pid, total_extlen + padding (40 bytes).
        var opcode = (FuseOpcode)BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(4));
        ulong unique = BinaryPrimitives.ReadUInt64LittleEndian(buffer.AsSpan(8));
        string? name = opcode == FuseOpcode.Lookup ? Encoding.UTF8.GetString(buffer, 40, n - 41) : null;
        return (opcode, unique, name);
    }

    private static void Reply(SafeFileHandle device, ulong unique, int error)
    {
        // struct fuse_out_header: len, error, unique.
        byte[] reply = new byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(reply, 16);
        BinaryPrimitives.WriteInt32LittleEndian(reply.AsSpan(4), error);
        BinaryPrimitives.WriteUInt64LittleEndian(reply.AsSpan(8), unique);
        Assert.Equal(16, LibC.Write((int)device.DangerousGetHandle(), reply));
    }

    private static Task WaitUntilAsync(Func<bool> condition, string failure) => WaitUntilAsync(() => Task.FromResult(condition()), failure);

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string failure)
    {
        var stopwatch = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(stopwatch.Elapsed < Patience, failure);
            await Task.Delay(20);
        }
    }

    private sealed class RunningHolder : IAsyncDisposable
    {
        private readonly CancellationTokenSource _cancel = new();

        private RunningHolder(FuseHolder holder, Func<CancellationToken, Task<bool>> run)
        {
            Holder = holder;
            Run = run(_cancel.Token);
        }

        public FuseHolder Holder { get; }

        public Task<bool> Run { get; }

        public static async Task<RunningHolder> StartAsync(string directory, ListLogger<FuseHolder> log, TimeSpan? idleExit = null, TimeProvider? time = null)
        {
            var holder = new FuseHolder(new FuseHolderOptions { Directory = directory, IdleExit = idleExit ?? TimeSpan.FromMinutes(10) }, log, time);
            var running = new RunningHolder(holder, holder.RunAsync);
            await Task.WhenAny(holder.Listening, running.Run).WaitAsync(Patience);
            if (running.Run.IsFaulted)
            {
                await running.Run;
            }

            return running;
        }

        public async ValueTask DisposeAsync()
        {
            await _cancel.CancelAsync();
            await Run.WaitAsync(Patience);
            _cancel.Dispose();
        }
    }
}
