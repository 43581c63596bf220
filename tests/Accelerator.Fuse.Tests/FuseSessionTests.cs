using System.Runtime.InteropServices;
using System.Text;
using Accelerator.Fuse.Protocol;
using Accelerator.Fuse.Tests.Support;
using Accelerator.Linux;
using Accelerator.Testing.Interop;
using Microsoft.Extensions.Time.Testing;
using B = Accelerator.Fuse.Tests.Protocol.FuseRequestBuilder;

namespace Accelerator.Fuse.Tests;

/// <summary>The source tree of <see cref="FuseSessionTests"/>, built once.</summary>
public sealed class SessionSourceFixture : IDisposable
{
    private readonly MountScratch _scratch = new();

    public SessionSourceFixture()
    {
        Data = MountScratch.RandomBytes(200_000, 3);
        _scratch.WriteFile("data", Data);
        string file = _scratch.WriteFile("xattrs", "x"u8.ToArray());
        UnixFile.SetXattr(file, "user.one", "1"u8);
        UnixFile.SetXattr(file, "user.large", new byte[1000]);
        for (int i = 0; i < 300; i++)
        {
            _scratch.WriteFile($"dir/entry-{i:D3}", []);
        }

        File.CreateSymbolicLink(Path.Combine(_scratch.Source, "link"), "data");
    }

    public string Source => _scratch.Source;

    public byte[] Data { get; }

    public void Dispose() => _scratch.Dispose();
}

/// <summary>The session's request handling, fed kernel-format requests directly; replies checked byte for byte.</summary>
public sealed class FuseSessionTests(SessionSourceFixture source) : IClassFixture<SessionSourceFixture>
{
    private readonly byte[] _data = source.Data;
    private readonly SessionSourceFixture _scratch = source;

    [Fact]
    public async Task Process_RequestBeforeInit_RepliesEio()
    {
        await using var harness = new SessionHarness(_scratch.Source);

        var (header, _) = harness.Call(B.Build(FuseOpcode.GetAttr, 4, 1, new FuseGetAttrIn()));

        Assert.Equal(-Errno.EIO, header.Error);
    }

    [Fact]
    public async Task Process_Init_CompletesInitializedWithTheNegotiatedConnection()
    {
        await using var harness = new SessionHarness(_scratch.Source);

        var (header, body) = harness.Call(B.Init(minor: 45));

        var reply = MemoryMarshal.Read<FuseInitOut>(body);
        Assert.Equal((0, 16U + 64), (header.Error, header.Length));
        Assert.Equal((7U, 38U, (ushort)256), (reply.Major, reply.Minor, reply.MaxPages));
        Assert.Same(harness.Session.Connection, await harness.Session.Initialized);
    }

    [Fact]
    public async Task Process_SecondInit_RepliesEproto()
    {
        await using var harness = new SessionHarness(_scratch.Source);
        harness.Initialize();

        Assert.Equal(-Errno.EPROTO, harness.Call(B.Init(unique: harness.NextUnique())).Header.Error);
    }

    [Fact]
    public async Task Process_Lookup_RepliesEntryWithLongTimeoutsAndAttributes()
    {
        await using var harness = new SessionHarness(_scratch.Source);
        harness.Initialize();

        var (header, body) = harness.Call(B.Build(FuseOpcode.Lookup, harness.NextUnique(), 1, B.Name("data")));

        var entry = MemoryMarshal.Read<FuseEntryOut>(body);
        Assert.Equal((0, 128), (header.Error, body.Length));
        Assert.Equal(harness.Index.Lookup(1, "data")!.Inode, entry.NodeId);
        Assert.Equal((1UL, 86400UL, 86400UL), (entry.Generation, entry.EntryValid, entry.AttrValid));
        Assert.Equal((0x8000U | 0x1A4, (ulong)_data.Length, 1U), (entry.Attr.Mode, entry.Attr.Size, entry.Attr.Nlink));
    }

    [Fact]
    public async Task Process_LookupMissing_RepliesCachedNegativeEntry()
    {
        await using var harness = new SessionHarness(_scratch.Source);
        harness.Initialize();

        var (header, body) = harness.Call(B.Build(FuseOpcode.Lookup, harness.NextUnique(), 1, B.Name("missing")));

        var entry = MemoryMarshal.Read<FuseEntryOut>(body);
        Assert.Equal((0, 0UL, 86400UL), (header.Error, entry.NodeId, entry.EntryValid));
    }

    [Fact]
    public async Task Process_LookupMissingWithoutNegativeCaching_RepliesEnoent()
    {
        await using var harness = new SessionHarness(_scratch.Source, new FuseSessionOptions { NegativeEntryTimeout = TimeSpan.Zero });
        harness.Initialize();

        Assert.Equal(-Errno.ENOENT, harness.Call(B.Build(FuseOpcode.Lookup, harness.NextUnique(), 1, B.Name("missing"))).Header.Error);
    }

    [Fact]
    public async Task Process_OldProtocol_RepliesCompatEntryAndAttrSizes()
    {
        await using var harness = new SessionHarness(_scratch.Source);
        harness.Initialize(minor: 8);

        var lookup = harness.Call(B.Build(FuseOpcode.Lookup, harness.NextUnique(), 1, B.Name("data")));
        var getattr = harness.Call(B.Build(FuseOpcode.GetAttr, harness.NextUnique(), 1, []));

        Assert.Equal((120, 96), (lookup.Body.Length, getattr.Body.Length));
    }

    [Fact]
    public async Task Process_GetAttrUnknownNode_RepliesEnoent()
    {
        await using var harness = new SessionHarness(_scratch.Source);
        harness.Initialize();

        Assert.Equal(-Errno.ENOENT, harness.Call(B.Build(FuseOpcode.GetAttr, harness.NextUnique(), 999_999, new FuseGetAttrIn())).Header.Error);
    }

    [Fact]
    public async Task Process_ReadLink_RepliesTargetBytes()
    {
        await using var harness = new SessionHarness(_scratch.Source);
        harness.Initialize();
        ulong link = harness.LookupNode(1, "link");

        var (header, body) = harness.Call(B.Build(FuseOpcode.ReadLink, harness.NextUnique(), link, []));

        Assert.Equal(0, header.Error);
        Assert.Equal("data"u8.ToArray(), body);
        Assert.Equal(-Errno.EINVAL, harness.Call(B.Build(FuseOpcode.ReadLink, harness.NextUnique(), 1, [])).Header.Error);
    }

    [Theory]
    [InlineData(FuseOpcode.ReadDir, 96)]
    [InlineData(FuseOpcode.ReadDirPlus, 400)]
    [InlineData(FuseOpcode.ReadDir, 4096)]
    public async Task Process_ReadDirInPieces_ListsEveryEntryOnceWithDots(FuseOpcode opcode, uint size)
    {
        await using var harness = new SessionHarness(_scratch.Source);
        harness.Initialize();
        ulong dir = harness.LookupNode(1, "dir");
        ulong handle = MemoryMarshal.Read<FuseOpenOut>(harness.Call(B.Build(FuseOpcode.OpenDir, harness.NextUnique(), dir, new FuseOpenIn())).Body).FileHandle;

        var (names, nodeIds) = ReadListing(harness, opcode, dir, handle, 0, size);

        Assert.Equal([".", "..", .. Enumerable.Range(0, 300).Select(i => $"entry-{i:D3}")], names);
        if (opcode == FuseOpcode.ReadDirPlus)
        {
            Assert.Equal((0UL, 0UL), (nodeIds["."], nodeIds[".."]));
            Assert.Equal(harness.Index.Lookup(dir, "entry-007")!.Inode, nodeIds["entry-007"]);
        }

        Assert.Equal(0, harness.Call(B.Build(FuseOpcode.ReleaseDir, harness.NextUnique(), dir, new FuseReleaseIn { FileHandle = handle })).Header.Error);
        Assert.Equal(0, harness.Session.Statistics.OpenDirectories);
    }

    [Theory]
    [InlineData(FuseOpcode.ReadDir)]
    [InlineData(FuseOpcode.ReadDirPlus)]
    public async Task Process_ReadDirOfHandleItDidNotOpen_ListsTheNodeAgainFromTheOffset(FuseOpcode opcode)
    {
        await using var harness = new SessionHarness(_scratch.Source);
        harness.Initialize();
        ulong dir = harness.LookupNode(1, "dir");

        // A predecessor's handle, which it had paged through up to offset 100 ("." and ".." are entries 0 and 1).
        var (names, _) = ReadListing(harness, opcode, dir, 12345, 100, 4096);

        Assert.Equal(Enumerable.Range(98, 202).Select(i => $"entry-{i:D3}"), names);
        Assert.Equal(1, harness.Session.Statistics.RebuiltListings);
        Assert.Equal(1, harness.Session.Statistics.OpenDirectories);
        Assert.Equal(0, harness.Call(B.Build(FuseOpcode.ReleaseDir, harness.NextUnique(), dir, new FuseReleaseIn { FileHandle = 12345 })).Header.Error);
        Assert.Equal(0, harness.Session.Statistics.OpenDirectories);
    }

    [Fact]
    public async Task Process_ReadDirOfUnknownHandleOnAFileOrMissingNode_RepliesEnotdirOrEnoent()
    {
        await using var harness = new SessionHarness(_scratch.Source);
        harness.Initialize();
        ulong data = harness.LookupNode(1, "data");

        Assert.Equal(-Errno.ENOTDIR, harness.Call(B.Read(FuseOpcode.ReadDir, harness.NextUnique(), data, 12345, 0, 4096)).Header.Error);
        Assert.Equal(-Errno.ENOENT, harness.Call(B.Read(FuseOpcode.ReadDir, harness.NextUnique(), 999_999, 12346, 0, 4096)).Header.Error);
        Assert.Equal(0, harness.Session.Statistics.OpenDirectories);
    }

    [Fact]
    public async Task Process_OpenDirOfTwoSessions_HandlesDiffer()
    {
        await using var first = new SessionHarness(_scratch.Source);
        await using var second = new SessionHarness(_scratch.Source);
        first.Initialize();
        second.Initialize();

        ulong a = MemoryMarshal.Read<FuseOpenOut>(first.Call(B.Build(FuseOpcode.OpenDir, first.NextUnique(), 1, new FuseOpenIn())).Body).FileHandle;
        ulong b = MemoryMarshal.Read<FuseOpenOut>(second.Call(B.Build(FuseOpcode.OpenDir, second.NextUnique(), 1, new FuseOpenIn())).Body).FileHandle;

        // Each session draws a generation for the high half of its handles: a successor's never equal a predecessor's.
        Assert.NotEqual(a >> 32, b >> 32);
        Assert.NotEqual(0UL, a >> 32);
    }

    [Fact]
    public async Task Process_OpenDirOnFile_RepliesEnotdir()
    {
        await using var harness = new SessionHarness(_scratch.Source);
        harness.Initialize();
        ulong data = harness.LookupNode(1, "data");

        Assert.Equal(-Errno.ENOTDIR, harness.Call(B.Build(FuseOpcode.OpenDir, harness.NextUnique(), data, new FuseOpenIn())).Header.Error);
    }

    [Fact]
    public async Task Process_GetXattr_FollowsSizeQueryErangeAndEnodata()
    {
        await using var harness = new SessionHarness(_scratch.Source);
        harness.Initialize();
        ulong node = harness.LookupNode(1, "xattrs");

        var size = harness.Call(B.GetXattr(harness.NextUnique(), node, "user.large", 0));
        var tooSmall = harness.Call(B.GetXattr(harness.NextUnique(), node, "user.large", 999));
        var value = harness.Call(B.GetXattr(harness.NextUnique(), node, "user.one", 10));
        var missing = harness.Call(B.GetXattr(harness.NextUnique(), node, "user.none", 10));

        Assert.Equal(1000U, MemoryMarshal.Read<FuseGetXattrOut>(size.Body).Size);
        Assert.Equal(-Errno.ERANGE, tooSmall.Header.Error);
        Assert.Equal("1"u8.ToArray(), value.Body);
        Assert.Equal(-Errno.ENODATA, missing.Header.Error);
    }

    [Fact]
    public async Task Process_ListXattr_RepliesNulSeparatedNamesOrSize()
    {
        await using var harness = new SessionHarness(_scratch.Source);
        harness.Initialize();
        ulong node = harness.LookupNode(1, "xattrs");

        var size = harness.Call(B.Build(FuseOpcode.ListXattr, harness.NextUnique(), node, new FuseGetXattrIn { Size = 0 }));
        var list = harness.Call(B.Build(FuseOpcode.ListXattr, harness.NextUnique(), node, new FuseGetXattrIn { Size = 100 }));
        var tooSmall = harness.Call(B.Build(FuseOpcode.ListXattr, harness.NextUnique(), node, new FuseGetXattrIn { Size = 5 }));

        Assert.Equal("user.large\0user.one\0"u8.ToArray(), list.Body);
        Assert.Equal((uint)list.Body.Length, MemoryMarshal.Read<FuseGetXattrOut>(size.Body).Size);
        Assert.Equal(-Errno.ERANGE, tooSmall.Header.Error);
    }

    [Fact]
    public async Task Process_Read_RepliesTheBytesAndNothingPastTheEnd()
    {
        await using var harness = new SessionHarness(_scratch.Source);
        harness.Initialize();
        ulong node = harness.LookupNode(1, "data");

        var middle = harness.Call(B.Read(FuseOpcode.Read, harness.NextUnique(), node, 0, 4093, 65536));
        var tail = harness.Call(B.Read(FuseOpcode.Read, harness.NextUnique(), node, 0, (ulong)_data.Length - 5, 65536));
        var past = harness.Call(B.Read(FuseOpcode.Read, harness.NextUnique(), node, 0, (ulong)_data.Length + 5, 65536));

        Assert.Equal(_data.AsSpan(4093, 65536).ToArray(), middle.Body);
        Assert.Equal(_data[^5..], tail.Body);
        Assert.Empty(past.Body);
        Assert.Equal(65536 + 5, harness.Session.Statistics.BytesRead);
    }

    [Fact]
    public async Task Process_ReadBeyondNegotiatedMaximum_RepliesEinval()
    {
        await using var harness = new SessionHarness(_scratch.Source);
        harness.Initialize();
        ulong node = harness.LookupNode(1, "data");

        Assert.Equal(-Errno.EINVAL, harness.Call(B.Read(FuseOpcode.Read, harness.NextUnique(), node, 0, 0, (1024 * 1024) + 1)).Header.Error);
    }

    [Fact]
    public async Task Process_ReadOfDirectory_RepliesEisdir()
    {
        await using var harness = new SessionHarness(_scratch.Source);
        harness.Initialize();

        Assert.Equal(-Errno.EISDIR, harness.Call(B.Read(FuseOpcode.Read, harness.NextUnique(), 1, 0, 0, 4096)).Header.Error);
    }

    [Fact]
    public async Task Process_InterruptOfPendingRead_RepliesEintrAndCancelsTheBackend()
    {
        GatedContentReader? gate = null;
        await using var harness = new SessionHarness(_scratch.Source, content: index => gate = new GatedContentReader(new DirectoryContentReader(index), index.Lookup(1, "data")!.Inode, honoursCancellation: true));
        harness.Initialize();
        ulong node = harness.LookupNode(1, "data");
        ulong unique = harness.NextUnique();

        harness.Send(B.Read(FuseOpcode.Read, unique, node, 0, 0, 4096));
        await gate!.Entered;
        Assert.False(harness.Sink.HasReply(unique));
        harness.Send(B.Build(FuseOpcode.Interrupt, unique | FuseProtocol.InterruptUniqueBit, 0, new FuseInterruptIn { Unique = unique }));

        var (header, _) = SessionHarness.Split(await harness.Sink.ReplyTo(unique).WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(-Errno.EINTR, header.Error);
        await gate.FirstCancellation.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1, gate.Cancelled);
        Assert.Equal(1, harness.Session.Statistics.Interrupts);
        Assert.False(harness.Sink.HasReply(unique | FuseProtocol.InterruptUniqueBit));
    }

    [Fact]
    public async Task Process_InterruptArrivingBeforeItsRead_InterruptsTheReadOnArrival()
    {
        GatedContentReader? gate = null;
        await using var harness = new SessionHarness(_scratch.Source, content: index => gate = new GatedContentReader(new DirectoryContentReader(index), index.Lookup(1, "data")!.Inode, honoursCancellation: true));
        harness.Initialize();
        ulong node = harness.LookupNode(1, "data");
        ulong unique = harness.NextUnique();

        harness.Send(B.Build(FuseOpcode.Interrupt, unique | FuseProtocol.InterruptUniqueBit, 0, new FuseInterruptIn { Unique = unique }));
        harness.Send(B.Read(FuseOpcode.Read, unique, node, 0, 0, 4096));

        var (header, _) = SessionHarness.Split(await harness.Sink.ReplyTo(unique).WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(-Errno.EINTR, header.Error);
    }

    [Fact]
    public async Task Process_ReadOutlivingTheTimeout_RepliesEioAndCancelsTheBackend()
    {
        var time = new FakeTimeProvider();
        GatedContentReader? gate = null;
        var options = new FuseSessionOptions { RequestTimeout = TimeSpan.FromSeconds(5) };
        await using var harness = new SessionHarness(_scratch.Source, options, time, index => gate = new GatedContentReader(new DirectoryContentReader(index), index.Lookup(1, "data")!.Inode, honoursCancellation: false));
        try
        {
            harness.Initialize();
            ulong node = harness.LookupNode(1, "data");
            ulong unique = harness.NextUnique();
            harness.Send(B.Read(FuseOpcode.Read, unique, node, 0, 0, 4096));
            var token = await gate!.Entered;

            time.Advance(TimeSpan.FromSeconds(4));
            Assert.False(harness.Sink.HasReply(unique));
            time.Advance(TimeSpan.FromSeconds(1));

            var (header, _) = SessionHarness.Split(await harness.Sink.ReplyTo(unique).WaitAsync(TimeSpan.FromSeconds(30)));
            Assert.Equal(-Errno.EIO, header.Error);
            Assert.True(token.IsCancellationRequested);
            Assert.Equal(1, harness.Session.Statistics.TimedOutReads);
        }
        finally
        {
            gate?.Release();
        }
    }

    [Fact]
    public async Task Process_DisposeWithReadPending_RepliesEio()
    {
        GatedContentReader? gate = null;
        var harness = new SessionHarness(_scratch.Source, content: index => gate = new GatedContentReader(new DirectoryContentReader(index), index.Lookup(1, "data")!.Inode, honoursCancellation: true));
        harness.Initialize();
        ulong node = harness.LookupNode(1, "data");
        ulong unique = harness.NextUnique();
        harness.Send(B.Read(FuseOpcode.Read, unique, node, 0, 0, 4096));
        await gate!.Entered;

        await harness.DisposeAsync();

        Assert.Equal(-Errno.EIO, SessionHarness.Split(await harness.Sink.ReplyTo(unique).WaitAsync(TimeSpan.FromSeconds(30))).Header.Error);
    }

    [Fact]
    public async Task Process_ForgetAndBatchForget_AreCountedWithoutReply()
    {
        await using var harness = new SessionHarness(_scratch.Source);
        harness.Initialize();
        int before = harness.Sink.All.Count;
        byte[] batch = [.. BitConverter.GetBytes(2u), .. new byte[4], .. new byte[32]];

        harness.Send(B.Build(FuseOpcode.Forget, harness.NextUnique(), 5, new FuseForgetIn { NLookup = 3 }));
        harness.Send(B.Build(FuseOpcode.BatchForget, harness.NextUnique(), 0, batch));

        Assert.Equal(before, harness.Sink.All.Count);
        Assert.Equal(3, harness.Session.Statistics.Forgets);
    }

    [Theory]
    [InlineData(FuseOpcode.Write, Errno.EROFS)]
    [InlineData(FuseOpcode.SetAttr, Errno.EROFS)]
    [InlineData(FuseOpcode.Mkdir, Errno.EROFS)]
    [InlineData(FuseOpcode.Create, Errno.EROFS)]
    [InlineData(FuseOpcode.Flush, Errno.ENOSYS)]
    [InlineData(FuseOpcode.Lseek, Errno.ENOSYS)]
    [InlineData((FuseOpcode)4096, Errno.ENOSYS)]
    [InlineData((FuseOpcode)999_999, Errno.ENOSYS)]
    public async Task Process_UnservedOpcode_RepliesErofsOrEnosys(FuseOpcode opcode, int errno)
    {
        await using var harness = new SessionHarness(_scratch.Source);
        harness.Initialize();

        Assert.Equal(-errno, harness.Call(B.Build(opcode, harness.NextUnique(), 1, new byte[64])).Header.Error);
    }

    [Fact]
    public async Task Process_OpenForWriting_RepliesErofs()
    {
        await using var harness = new SessionHarness(_scratch.Source);
        harness.Initialize();
        ulong node = harness.LookupNode(1, "data");

        var write = harness.Call(B.Build(FuseOpcode.Open, harness.NextUnique(), node, new FuseOpenIn { Flags = 1 }));
        var read = harness.Call(B.Build(FuseOpcode.Open, harness.NextUnique(), node, new FuseOpenIn { Flags = 0 }));

        Assert.Equal(-Errno.EROFS, write.Header.Error);
        Assert.Equal((uint)FuseOpenFlags.KeepCache, MemoryMarshal.Read<FuseOpenOut>(read.Body).OpenFlags);
        Assert.Equal(1, harness.Session.Statistics.OpenFiles);
    }

    [Fact]
    public async Task Process_AccessAsOtherUser_ChecksTheOtherBits()
    {
        await using var harness = new SessionHarness(_scratch.Source);
        harness.Initialize();
        ulong node = harness.LookupNode(1, "data");

        var read = harness.Call(B.Build(FuseOpcode.Access, harness.NextUnique(), node, new FuseAccessIn { Mask = 4 }, uid: 1000, gid: 1000));
        var execute = harness.Call(B.Build(FuseOpcode.Access, harness.NextUnique(), node, new FuseAccessIn { Mask = 1 }, uid: 1000, gid: 1000));

        Assert.Equal((0, -Errno.EACCES), (read.Header.Error, execute.Header.Error));
    }

    [Fact]
    public async Task Process_StatFs_RepliesTotals()
    {
        await using var harness = new SessionHarness(_scratch.Source);
        harness.Initialize();

        var statfs = MemoryMarshal.Read<FuseKstatfs>(harness.Call(B.Build(FuseOpcode.StatFs, harness.NextUnique(), 1, [])).Body);

        Assert.Equal((4096U, 255U, 0UL), (statfs.BlockSize, statfs.NameLength, statfs.BlocksFree));
        Assert.True(statfs.Blocks * 4096 >= (ulong)_data.Length);
        Assert.Equal((ulong)harness.Index.InodeCount, statfs.Files);
    }

    [Fact]
    public async Task Process_LengthMismatch_RepliesEioToTheUniqueAndCountsIt()
    {
        await using var harness = new SessionHarness(_scratch.Source);
        harness.Initialize();
        byte[] message = B.Build(FuseOpcode.Lookup, 500, 1, B.Name("data"));
        message[0]++;

        harness.Send(message);
        harness.Send(new byte[10]);

        Assert.Equal(-Errno.EIO, SessionHarness.Split(await harness.Sink.ReplyTo(500)).Header.Error);
        Assert.Equal(2, harness.Session.Statistics.MalformedRequests);
    }

    // Pages through a listing from offset, as the kernel does: each READDIR continues at the last entry's offset.
    private static (List<string> Names, Dictionary<string, ulong> NodeIds) ReadListing(SessionHarness harness, FuseOpcode opcode, ulong dir, ulong handle, ulong offset, uint size)
    {
        var names = new List<string>();
        var nodeIds = new Dictionary<string, ulong>();
        while (true)
        {
            var (header, body) = harness.Call(B.Read(opcode, harness.NextUnique(), dir, handle, offset, size));
            Assert.Equal(0, header.Error);
            if (body.Length == 0)
            {
                return (names, nodeIds);
            }

            for (int at = 0; at < body.Length;)
            {
                int direntAt = opcode == FuseOpcode.ReadDirPlus ? at + 128 : at;
                var dirent = MemoryMarshal.Read<FuseDirent>(body.AsSpan(direntAt));
                string name = Encoding.UTF8.GetString(body, direntAt + 24, (int)dirent.NameLength);
                names.Add(name);
                if (opcode == FuseOpcode.ReadDirPlus)
                {
                    nodeIds[name] = MemoryMarshal.Read<FuseEntryOut>(body.AsSpan(at)).NodeId;
                }

                offset = dirent.Offset;
                at = direntAt + FuseProtocol.DirentAlign(24 + (int)dirent.NameLength);
            }
        }
    }
}
