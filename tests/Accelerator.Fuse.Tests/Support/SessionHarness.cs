using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Accelerator.Fuse.FileSystem;
using Accelerator.Fuse.Protocol;
using Accelerator.Fuse.Tests.Protocol;
using Accelerator.Testing.Trees;

namespace Accelerator.Fuse.Tests.Support;

/// <summary>Replies captured instead of written to /dev/fuse; waiters can await the reply to one unique.</summary>
internal sealed class CaptureSink : IFuseReplySink
{
    private readonly ConcurrentDictionary<ulong, TaskCompletionSource<byte[]>> _replies = new();
    private readonly ConcurrentQueue<byte[]> _all = new();

    public IReadOnlyCollection<byte[]> All => _all;

    public bool Send(ReadOnlySpan<byte> reply, ReadOnlySpan<byte> data, out int errno)
    {
        byte[] copy = [.. reply, .. data];
        _all.Enqueue(copy);
        Slot(MemoryMarshal.Read<FuseOutHeader>(copy).Unique).TrySetResult(copy);
        errno = 0;
        return true;
    }

    public Task<byte[]> ReplyTo(ulong unique) => Slot(unique).Task;

    public bool HasReply(ulong unique) => _replies.TryGetValue(unique, out var slot) && slot.Task.IsCompleted;

    private TaskCompletionSource<byte[]> Slot(ulong unique) => _replies.GetOrAdd(unique, _ => new(TaskCreationOptions.RunContinuationsAsynchronously));
}

/// <summary>A <see cref="FuseSession"/> fed requests directly (no kernel), over a real directory, replies captured.</summary>
internal sealed class SessionHarness : IAsyncDisposable
{
    private readonly FuseSession.ReaderBuffers _buffers = new(256 * 1024);
    private ulong _unique = 100;

    public SessionHarness(string source, FuseSessionOptions? options = null, TimeProvider? time = null, Func<DirectoryChunkIndex, IFileContentReader>? content = null, FuseConnectionInfo? resumed = null)
    {
        Index = DirectoryChunkIndex.Build(source);
        FileSystem = new ChunkIndexFileSystem(Index, content?.Invoke(Index) ?? new DirectoryContentReader(Index));
        Session = new FuseSession(Sink, FileSystem, options, null, time, resumed);
    }

    public DirectoryChunkIndex Index { get; }

    public ChunkIndexFileSystem FileSystem { get; }

    public CaptureSink Sink { get; } = new();

    public FuseSession Session { get; }

    public ulong NextUnique() => _unique += 2;

    public void Send(byte[] message) => Session.Process(message, _buffers);

    /// <summary>Sends a request and returns its (synchronous) reply: header and body.</summary>
    public (FuseOutHeader Header, byte[] Body) Call(byte[] message)
    {
        ulong unique = MemoryMarshal.Read<FuseInHeader>(message).Unique;
        Send(message);
        Assert.True(Sink.HasReply(unique), $"no reply to {unique}");
        return Split(Sink.ReplyTo(unique).Result);
    }

    public static (FuseOutHeader Header, byte[] Body) Split(byte[] reply)
        => (MemoryMarshal.Read<FuseOutHeader>(reply), reply[FuseProtocol.OutHeaderSize..]);

    public FuseConnectionInfo Initialize(uint minor = 45)
    {
        var (header, _) = Call(FuseRequestBuilder.Init(minor: minor));
        Assert.Equal(0, header.Error);
        return Session.Connection!;
    }

    public ulong LookupNode(ulong parent, string name)
    {
        var (header, body) = Call(FuseRequestBuilder.Build(FuseOpcode.Lookup, NextUnique(), parent, FuseRequestBuilder.Name(name)));
        Assert.Equal(0, header.Error);
        return MemoryMarshal.Read<FuseEntryOut>(body).NodeId;
    }

    public async ValueTask DisposeAsync()
    {
        await Session.DisposeAsync();
        Index.Dispose();
    }
}
