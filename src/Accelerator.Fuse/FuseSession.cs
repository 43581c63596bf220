using System.Collections.Concurrent;
using Accelerator.Fuse.FileSystem;
using Accelerator.Fuse.Protocol;
using Accelerator.Linux;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Win32.SafeHandles;

namespace Accelerator.Fuse;

/// <summary>
/// Serves an <see cref="IFuseFileSystem"/> on an open <c>/dev/fuse</c> connection: reader threads read requests (the
/// kernel hands each request to one reader), metadata is answered on the reader, file reads are dispatched
/// asynchronously so a slow read never holds up other requests, and every reply goes out in one write(2). More readers
/// start while all are busy, up to <see cref="FuseSessionOptions.MaxReaders"/>. INTERRUPT cancels the matching read;
/// <see cref="FuseSessionOptions.RequestTimeout"/> bounds how long a read may take.
/// </summary>
/// <remarks>
/// The session ends when the kernel ends the connection (unmount or abort); <see cref="FuseMount"/> does both.
/// Disposing cancels the reads in flight and releases the device once the readers are gone; it does not unmount.
/// For a takeover, <see cref="StopReadingAsync"/> stops the readers without ending the connection, and
/// <see cref="Resume"/> serves a connection another session (or process) initialised.
/// </remarks>
public sealed partial class FuseSession : IAsyncDisposable
{
    private readonly SafeFileHandle? _device;
    private readonly IFuseReplySink _sink;
    private readonly IFuseFileSystem _fileSystem;
    private readonly IFuseExtendedAttributes? _xattrs;
    private readonly IFuseStatfs? _statfs;
    private readonly FuseSessionOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly int _requestBufferSize;
    private readonly ConcurrentDictionary<ulong, DirectoryHandle> _directories = new();
    private readonly TaskCompletionSource<FuseConnectionInfo> _initialized = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly bool _resumed;
    private volatile FuseConnectionInfo? _connection;
    private volatile bool _released;
    private long _nextHandle;
    private ulong _lastOpenedFile;
    private int _started;
    private int _stopping;
    private int _ended;
    private int _readers;
    private int _idleReaders;
    private int _disposed;

    /// <summary>Creates a session on <paramref name="device"/>, an open <c>/dev/fuse</c> the session now owns.</summary>
    /// <param name="device">The device, mounted (the kernel sends INIT once the file system is mounted).</param>
    /// <param name="fileSystem">The tree served.</param>
    /// <param name="options">Options; validated here.</param>
    /// <param name="logger">Where to log; nothing when null.</param>
    /// <param name="timeProvider">Time for request timeouts; the system clock when null.</param>
    public FuseSession(SafeFileHandle device, IFuseFileSystem fileSystem, FuseSessionOptions? options = null, ILogger? logger = null, TimeProvider? timeProvider = null)
        : this(device, fileSystem, options, logger, timeProvider, resumed: null)
    {
    }

    private FuseSession(SafeFileHandle device, IFuseFileSystem fileSystem, FuseSessionOptions? options, ILogger? logger, TimeProvider? timeProvider, FuseConnectionInfo? resumed)
        : this(new DeviceReplySink(device ?? throw new ArgumentNullException(nameof(device))), fileSystem, options, logger, timeProvider, resumed)
    {
        _device = device;
    }

    internal FuseSession(IFuseReplySink sink, IFuseFileSystem fileSystem, FuseSessionOptions? options, ILogger? logger, TimeProvider? timeProvider, FuseConnectionInfo? resumed = null)
    {
        ArgumentNullException.ThrowIfNull(fileSystem);
        options ??= new FuseSessionOptions();
        FuseOptionsValidation.ThrowIfInvalid(new FuseSessionOptionsValidator(), options, "FUSE session");
        _sink = sink;
        _fileSystem = fileSystem;
        _xattrs = fileSystem as IFuseExtendedAttributes;
        _statfs = fileSystem as IFuseStatfs;
        _options = options;
        _logger = logger ?? NullLogger.Instance;
        _time = timeProvider ?? TimeProvider.System;

        // fs/fuse/dev.c refuses a read buffer smaller than FUSE_MIN_READ_BUFFER or than a WRITE request of max_write.
        // A resumed connection keeps the max_write its INIT settled, whatever these options say.
        _requestBufferSize = Math.Max(FuseProtocol.MinReadBuffer, Math.Max(options.MaxWrite, resumed?.MaxWrite ?? 0) + FuseProtocol.PageSize);

        // Handles carry a random generation in their high half, so a successor's never collide with the predecessor's
        // still open in the kernel (and a collision would only share a listing: see HandleReadDir).
        _nextHandle = (long)Random.Shared.Next(1, int.MaxValue) << 32;
        if (resumed is not null)
        {
            _resumed = true;
            _connection = resumed;
            _initialized.TrySetResult(resumed);
        }
    }

    /// <summary>What happened so far.</summary>
    public FuseSessionStatistics Statistics { get; } = new();

    /// <summary>The negotiated connection, once INIT was answered; null before.</summary>
    public FuseConnectionInfo? Connection => _connection;

    /// <summary>Completes when INIT was answered; fails if the connection ends first.</summary>
    public Task<FuseConnectionInfo> Initialized => _initialized.Task;

    /// <summary>
    /// Completes when every reader stopped: the kernel ended the connection, or <see cref="StopReadingAsync"/> stopped
    /// them (the connection then lives on).
    /// </summary>
    public Task Completion => _completion.Task;

    /// <summary>Whether this session serves a connection it did not initialise (<see cref="Resume"/>).</summary>
    public bool IsResumed => _resumed;

    /// <summary>Whether <see cref="StopReadingAsync"/> was called.</summary>
    public bool IsStopping => Volatile.Read(ref _stopping) != 0;

    /// <summary>
    /// Starts the reader threads (once). A resumed session first asks the kernel to resend what a predecessor read and
    /// did not answer (<see cref="FuseNotifyCode.Resend"/>, when <see cref="FuseConnectionInfo.KernelCanResend"/>).
    /// </summary>
    /// <exception cref="InvalidOperationException">The session has no device or was disposed.</exception>
    public void Start()
    {
        if (_device is null)
        {
            throw new InvalidOperationException("This session has no device to read.");
        }

        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            return;
        }

        if (_resumed)
        {
            // Before any reader runs: a request this session read itself would otherwise be resent too.
            SendResend(_connection!);
        }

        for (int i = 0; i < _options.MinReaders; i++)
        {
            TryStartReader();
        }
    }

    /// <summary>
    /// Cancels the reads in flight and releases the device (closed once the readers are gone). After
    /// <see cref="StopReadingAsync"/> the cancelled reads are not answered: they stay in the kernel for a successor.
    /// </summary>
    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return ValueTask.CompletedTask;
        }

        CancelPending();
        _device?.Dispose();
        if (Volatile.Read(ref _started) == 0)
        {
            _completion.TrySetResult();
            _initialized.TrySetException(new ObjectDisposedException(nameof(FuseSession)));
        }

        return ValueTask.CompletedTask;
    }

    private bool TryStartReader()
    {
        int count;
        do
        {
            count = Volatile.Read(ref _readers);
            if (count >= _options.MaxReaders || Volatile.Read(ref _stopping) != 0)
            {
                return false;
            }
        }
        while (Interlocked.CompareExchange(ref _readers, count + 1, count) != count);

        // StopReadingAsync sets the flag, then counts the readers it must wake: a reader counted after that backs out
        // (both sides are interlocked, so one of them sees the other).
        if (Volatile.Read(ref _stopping) != 0)
        {
            if (Interlocked.Decrement(ref _readers) == 0)
            {
                OnReadersGone();
            }

            return false;
        }

        var thread = new Thread(ReadLoop) { IsBackground = true, Name = $"fuse-reader-{count}" };
        thread.Start();
        return true;
    }

    // Readers block in read(2), the cheapest wait: the kernel wakes one reader per request. StopReadingAsync wakes
    // them with requests of its own (see WakeReaders); each reader looks at the flag after every request.
    private void ReadLoop()
    {
        var device = _device!;
        bool added = false;
        var reader = new ReaderBuffers(_requestBufferSize);
        try
        {
            device.DangerousAddRef(ref added);
            int fd = (int)device.DangerousGetHandle();
            while (Volatile.Read(ref _stopping) == 0)
            {
                Interlocked.Increment(ref _idleReaders);
                int n = LibC.Read(fd, reader.Request);
                if (Interlocked.Decrement(ref _idleReaders) == 0 && n > 0)
                {
                    // Every reader is busy now: add one so a slow request never leaves the queue unread.
                    TryStartReader();
                }

                if (n > 0)
                {
                    Process(reader.Request.AsSpan(0, n), reader);
                    continue;
                }

                int errno = -n;
                if (errno == Errno.EAGAIN)
                {
                    // Someone made the shared file description non-blocking: wait for a request instead of spinning.
                    Span<PollDescriptor> poll = [new PollDescriptor { Fd = fd, Events = LibC.POLLIN }];
                    _ = LibC.Poll(poll, -1);
                    continue;
                }

                if (errno is Errno.EINTR or Errno.ENOENT)
                {
                    // Interrupted, or the request was withdrawn while being read: read again.
                    continue;
                }

                if (errno is Errno.ENODEV or Errno.ECONNABORTED)
                {
                    Volatile.Write(ref _ended, 1);
                    LogConnectionEnded(errno);
                }
                else
                {
                    LogReadFailed(LibC.Message(errno));
                }

                break;
            }
        }
        catch (Exception ex) when (ex is ObjectDisposedException)
        {
            // The device was released before this reader started.
        }
        catch (Exception ex)
        {
            LogReaderCrashed(ex);
        }
        finally
        {
            if (added)
            {
                device.DangerousRelease();
            }

            if (Interlocked.Decrement(ref _readers) == 0)
            {
                OnReadersGone();
            }
        }
    }

    private void OnReadersGone()
    {
        if (Volatile.Read(ref _stopping) != 0 && Volatile.Read(ref _ended) == 0)
        {
            // Stopped for a successor: the connection lives on; reads in flight may still be answered (drained).
            _initialized.TrySetException(new IOException("The FUSE session stopped reading before INIT."));
            if (_pending.IsEmpty)
            {
                _drained.TrySetResult();
            }

            _completion.TrySetResult();
            return;
        }

        // The connection is gone: nothing in flight can be answered any more.
        CancelPending();
        _drained.TrySetResult();
        _initialized.TrySetException(new IOException("The FUSE connection ended before INIT."));
        _completion.TrySetResult();
    }

    // The unique of the NOTIFY_REPLY requests that wake readers ("STOP" in the high half; never a kernel unique, which
    // counts up from 2 in steps of 2).
    internal const ulong WakeUnique = 0x5354_4F50_0000_0000;

    /// <summary>Buffers of one reader: the request read from the device and the reply of a metadata request.</summary>
    internal sealed class ReaderBuffers(int requestSize)
    {
        // Metadata replies are small (entries, attributes, xattr values up to 64 KiB, listings of one request's size).
        internal const int ReplySize = (128 * 1024) + FuseProtocol.OutHeaderSize;

        public byte[] Request { get; } = GC.AllocateUninitializedArray<byte>(requestSize);

        public byte[] Reply { get; } = GC.AllocateUninitializedArray<byte>(ReplySize);
    }

    /// <summary>An open directory: its listing, taken at the first READDIR and paged through by offset.</summary>
    private sealed class DirectoryHandle(ulong nodeId)
    {
        private readonly Lock _lock = new();
        private IReadOnlyList<FuseDirectoryEntry>? _entries;
        private byte[]?[]? _names;

        public ulong NodeId { get; } = nodeId;

        public (IReadOnlyList<FuseDirectoryEntry>? Entries, byte[]?[]? Names) GetListing(IFuseFileSystem fileSystem)
        {
            lock (_lock)
            {
                if (_entries is null)
                {
                    _entries = fileSystem.ReadDirectory(NodeId);
                    _names = _entries is null ? null : new byte[_entries.Count][];
                }

                return (_entries, _names);
            }
        }
    }
}

/// <summary>Where replies go: the device, or a test's capture.</summary>
internal interface IFuseReplySink
{
    /// <summary>
    /// Sends one whole reply made of <paramref name="reply"/> and then <paramref name="data"/> (a READ's bytes, kept
    /// apart from the header); false when the kernel refused it (request gone, connection ended).
    /// </summary>
    bool Send(ReadOnlySpan<byte> reply, ReadOnlySpan<byte> data, out int errno);
}

/// <summary>Replies written to <c>/dev/fuse</c>, each with one write(2) or writev(2).</summary>
internal sealed class DeviceReplySink(SafeFileHandle device) : IFuseReplySink
{
    public bool Send(ReadOnlySpan<byte> reply, ReadOnlySpan<byte> data, out int errno)
    {
        bool added = false;
        try
        {
            // fs/fuse/dev.c takes a reply only whole, from one write: writev when the data is apart.
            device.DangerousAddRef(ref added);
            int fd = (int)device.DangerousGetHandle();
            int n = data.IsEmpty ? LibC.Write(fd, reply) : LibC.Writev(fd, reply, data);
            errno = n < 0 ? -n : 0;
            return n == reply.Length + data.Length;
        }
        catch (ObjectDisposedException)
        {
            errno = Errno.ENODEV;
            return false;
        }
        finally
        {
            if (added)
            {
                device.DangerousRelease();
            }
        }
    }
}
