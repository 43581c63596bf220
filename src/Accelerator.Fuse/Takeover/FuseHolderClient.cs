using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Accelerator.Linux;
using Microsoft.Win32.SafeHandles;
using Types = Accelerator.Fuse.Takeover.FuseHolderProtocol.Types;

namespace Accelerator.Fuse.Takeover;

/// <summary>
/// A connection to the FUSE descriptor holder (<see cref="FuseHolder"/>). Deposits make this connection the owner of
/// their keys, a lease that lasts while it stays open: keep the client for the life of the serving process. When
/// another process claims a key this connection owns, the holder sends a release: <see cref="ReleaseRequested"/> runs,
/// and the owner must stop serving without unmounting and exit (closing the connection); if it does not within the
/// claimant's timeout, the holder kills it.
/// </summary>
/// <remarks>
/// One request at a time (calls wait their turn). Cancelling a request closes the connection (its reply would
/// otherwise be taken for the next one's); the keys this connection owned stay held for a claimant.
/// </remarks>
public sealed class FuseHolderClient : IAsyncDisposable
{
    // sockaddr_un.sun_path: 108 bytes with the terminating NUL.
    private const int MaxSocketPathBytes = 107;

    private static readonly TimeSpan RetryInterval = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan RelaunchInterval = TimeSpan.FromSeconds(5);

    private readonly FuseHolderChannel _channel;
    private readonly SemaphoreSlim _turn = new(1, 1);
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _replyLock = new();
    private TaskCompletionSource<(HolderMessage Message, SafeFileHandle? Descriptor)>? _reply;
    private int _disposed;

    private FuseHolderClient(string directory, FuseHolderChannel channel)
    {
        Directory = directory;
        _channel = channel;
    }

    /// <summary>The holder's directory.</summary>
    public string Directory { get; }

    /// <summary>The holder's pid (<c>SO_PEERCRED</c> of the socket, confirmed by its welcome).</summary>
    public int HolderPid { get; private set; }

    /// <summary>
    /// Called (on the thread pool) with the keys the holder asks this owner to release, because another process claimed
    /// them. The owner stops serving them without unmounting (the connections stay in the holder) and exits; closing
    /// the connection (process exit, or <see cref="DisposeAsync"/>) is the acknowledgement. Without a handler nothing
    /// happens and the holder kills the process when the claimant's timeout passes.
    /// </summary>
    public Func<IReadOnlyList<string>, Task>? ReleaseRequested { get; set; }

    /// <summary>Completes when the connection to the holder ended (closed by either side).</summary>
    public Task Completion => _completion.Task;

    /// <summary>
    /// Connects to the holder of <paramref name="directory"/>. When nothing listens there and a
    /// <paramref name="launcher"/> is given, starts a holder with it (the directory is created 0700 first) and retries
    /// until it listens (<see cref="FuseHolderLauncher.StartTimeout"/>).
    /// </summary>
    /// <param name="directory">The holder's directory (its socket is <c>holder.sock</c> there).</param>
    /// <param name="launcher">How to start a holder; null: fail when none listens.</param>
    /// <param name="cancellationToken">Cancels connecting.</param>
    /// <exception cref="FuseHolderException">No holder listens (and none could be started), or it is not this user's.</exception>
    public static async Task<FuseHolderClient> ConnectAsync(string directory, FuseHolderLauncher? launcher = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        directory = Path.GetFullPath(directory);
        string socketPath = Path.Combine(directory, FuseHolder.SocketName);
        if (System.Text.Encoding.UTF8.GetByteCount(socketPath) > MaxSocketPathBytes)
        {
            throw new FuseHolderException($"The FUSE holder's socket path {socketPath} is longer than a unix socket address allows ({MaxSocketPathBytes} bytes); choose a shorter holder directory.");
        }

        var stopwatch = Stopwatch.StartNew();
        TimeSpan? launchedAt = null;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Exception failure;
            try
            {
                return await ConnectOnceAsync(directory, socketPath, cancellationToken).ConfigureAwait(false);
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.AddressNotAvailable or SocketError.ConnectionRefused or SocketError.ConnectionReset)
            {
                failure = ex;
            }
            catch (FuseHolderUnavailableException ex)
            {
                // Accepted, then closed: a holder that was exiting when idle.
                failure = ex;
            }
            catch (SocketException ex)
            {
                throw new FuseHolderException($"Cannot connect to the FUSE holder at {socketPath}: {ex.Message}", ex);
            }

            if (launcher is null)
            {
                throw new FuseHolderException($"No FUSE holder listens at {socketPath}: {failure.Message}", failure);
            }

            if (launchedAt is null || stopwatch.Elapsed - launchedAt >= RelaunchInterval)
            {
                // Again after a while: the one started first may have found an exiting holder's lock and left.
                PrivateDirectory.Create(directory);
                launcher.Start(directory);
                launchedAt = stopwatch.Elapsed;
            }
            else if (stopwatch.Elapsed > launcher.StartTimeout)
            {
                throw new FuseHolderException(
                    $"The FUSE holder started for {directory} did not listen within {launcher.StartTimeout} (see {Path.Combine(directory, FuseHolderLauncher.LogName)}).", failure);
            }

            await Task.Delay(RetryInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<FuseHolderClient> ConnectOnceAsync(string directory, string socketPath, CancellationToken cancellationToken)
    {
        if (!File.Exists(socketPath))
        {
            throw new SocketException((int)SocketError.AddressNotAvailable);
        }

        var socket = DescriptorSocket.Connect(socketPath);
        if (socket.Peer.UserId != LibC.Geteuid())
        {
            socket.Dispose();
            throw new FuseHolderException($"The FUSE holder at {socketPath} runs as uid {socket.Peer.UserId}, not as this process's uid {LibC.Geteuid()}: refusing it.");
        }

        var client = new FuseHolderClient(directory, new FuseHolderChannel(socket));
        client.StartReader();
        try
        {
            var (welcome, _) = await client.RequestAsync(new HolderMessage { Type = Types.Hello }, null, cancellationToken).ConfigureAwait(false);
            client.HolderPid = Expect(welcome, Types.Welcome).Pid ?? socket.Peer.ProcessId;
            return client;
        }
        catch (Exception ex) when (ex is FuseHolderUnavailableException or FuseHolderException)
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Deposits a copy of <paramref name="device"/> (a mounted <c>/dev/fuse</c>) under <paramref name="key"/> with
    /// <paramref name="state"/>; this connection becomes the key's owner. Depositing again a key this connection owns
    /// replaces its descriptor and state; a key held for someone else must be claimed first.
    /// </summary>
    /// <param name="key">A name (e.g. the canonical mount point): 1 to 4096 bytes of UTF-8, never opened as a path.</param>
    /// <param name="device">The device; the caller keeps it (the holder gets its own copy).</param>
    /// <param name="state">What a successor needs to resume (e.g. the negotiated connection as JSON), at most 64 KiB.</param>
    /// <param name="cancellationToken">Cancels the request (and closes the connection).</param>
    /// <exception cref="FuseHolderException">The holder refused it (the message says why).</exception>
    public async Task DepositAsync(string key, SafeFileHandle device, string state, CancellationToken cancellationToken = default)
    {
        CheckKey(key);
        ArgumentNullException.ThrowIfNull(device);
        if (FuseHolderProtocol.CheckState(state) is { } problem)
        {
            throw new ArgumentException(problem, nameof(state));
        }

        var (reply, _) = await RequestAsync(new HolderMessage { Type = Types.Deposit, Key = key, State = state }, device, cancellationToken).ConfigureAwait(false);
        Expect(reply, Types.Ok);
    }

    /// <summary>
    /// Claims the connection held under <paramref name="key"/>: null when none is held. Otherwise, when another process
    /// owns it, the holder asks that owner to release it, waits up to <paramref name="releaseTimeout"/> for it to exit,
    /// kills it if it did not, and only then answers; this connection becomes the owner.
    /// </summary>
    /// <param name="key">The key.</param>
    /// <param name="releaseTimeout">How long the owner may take to let go (at most 5 minutes).</param>
    /// <param name="cancellationToken">Cancels the request (and closes the connection).</param>
    /// <exception cref="FuseHolderException">The holder refused it (another claim in progress, an owner that cannot be killed).</exception>
    public async Task<FuseHeldConnection?> ClaimAsync(string key, TimeSpan releaseTimeout, CancellationToken cancellationToken = default)
    {
        CheckKey(key);
        ArgumentOutOfRangeException.ThrowIfLessThan(releaseTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(releaseTimeout, FuseHolderProtocol.MaxReleaseTimeout);
        var request = new HolderMessage { Type = Types.Claim, Key = key, ReleaseTimeoutMilliseconds = (long)releaseTimeout.TotalMilliseconds };
        var (reply, descriptor) = await RequestAsync(request, null, cancellationToken).ConfigureAwait(false);
        if (reply.Type == Types.NotHeld)
        {
            descriptor?.Dispose();
            return null;
        }

        try
        {
            Expect(reply, Types.Claimed);
            if (descriptor is null || reply.State is null)
            {
                throw new FuseHolderException($"The holder's answer to the claim of '{key}' lacks the descriptor or the state.");
            }

            var held = new FuseHeldConnection(key, descriptor, reply.State, reply.Pid);
            descriptor = null;
            return held;
        }
        finally
        {
            descriptor?.Dispose();
        }
    }

    /// <summary>Drops what is held under <paramref name="key"/> (its mount is being unmounted for real).</summary>
    /// <returns>Whether something was held.</returns>
    /// <exception cref="FuseHolderException">The holder refused it.</exception>
    public async Task<bool> ForgetAsync(string key, CancellationToken cancellationToken = default)
    {
        CheckKey(key);
        var (reply, _) = await RequestAsync(new HolderMessage { Type = Types.Forget, Key = key }, null, cancellationToken).ConfigureAwait(false);
        return Expect(reply, Types.Ok).Held ?? false;
    }

    /// <summary>Everything the holder keeps, in ordinal key order.</summary>
    /// <exception cref="FuseHolderException">The holder refused it.</exception>
    public async Task<IReadOnlyList<FuseHeldSummary>> ListAsync(CancellationToken cancellationToken = default)
    {
        var all = new List<FuseHeldSummary>();
        string? after = null;
        while (true)
        {
            var (reply, _) = await RequestAsync(new HolderMessage { Type = Types.List, After = after }, null, cancellationToken).ConfigureAwait(false);
            var page = Expect(reply, Types.Listing).Entries ?? [];
            all.AddRange(page.Select(e => new FuseHeldSummary(e.Key, e.OwnerPid, e.State)));
            if (reply.More != true || page.Count == 0 || all.Count > FuseHolderProtocol.MaxEntries)
            {
                return all;
            }

            after = page[^1].Key;
        }
    }

    /// <summary>Closes the connection: keys this client owned stay held, without an owner, for a claimant.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _channel.Dispose();
        await _completion.Task.ConfigureAwait(false);
    }

    private static void CheckKey(string key)
    {
        if (FuseHolderProtocol.CheckKey(key) is { } problem)
        {
            throw new ArgumentException(problem, nameof(key));
        }
    }

    private static HolderMessage Expect(HolderMessage reply, string type) =>
        reply.Type == type ? reply
        : reply.Type == Types.Error ? throw new FuseHolderException($"The FUSE holder refused the request: {reply.Error}")
        : throw new FuseHolderException($"The FUSE holder answered '{reply.Type}' where '{type}' was expected.");

    private async Task<(HolderMessage Message, SafeFileHandle? Descriptor)> RequestAsync(HolderMessage request, SafeHandle? descriptor, CancellationToken cancellationToken)
    {
        await _turn.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var reply = new TaskCompletionSource<(HolderMessage, SafeFileHandle?)>(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_replyLock)
            {
                if (_completion.Task.IsCompleted)
                {
                    throw new FuseHolderUnavailableException($"The connection to the FUSE holder in {Directory} is closed.");
                }

                _reply = reply;
            }

            try
            {
                _channel.Send(request, descriptor);
            }
            catch (IOException ex)
            {
                throw new FuseHolderUnavailableException($"The FUSE holder in {Directory} closed the connection: {ex.Message}", ex);
            }

            try
            {
                return await reply.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                await DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }
        finally
        {
            _turn.Release();
        }
    }

    private void StartReader()
    {
        var thread = new Thread(ReadReplies) { IsBackground = true, Name = "fuse-holder-client" };
        thread.Start();
    }

    private void ReadReplies()
    {
        Exception? failure = null;
        try
        {
            while (true)
            {
                var message = _channel.Receive(out var descriptor);
                if (message is null)
                {
                    return;
                }

                if (message.Type == Types.Release)
                {
                    descriptor?.Dispose();
                    IReadOnlyList<string> keys = message.Keys ?? [];
                    if (ReleaseRequested is { } handler)
                    {
                        _ = Task.Run(() => handler(keys));
                    }

                    continue;
                }

                TaskCompletionSource<(HolderMessage, SafeFileHandle?)>? reply;
                lock (_replyLock)
                {
                    reply = _reply;
                    _reply = null;
                }

                if (reply is null || !reply.TrySetResult((message, descriptor)))
                {
                    // An answer nobody asked for (or a cancelled request's): the stream is out of step.
                    descriptor?.Dispose();
                    failure = new FuseHolderException($"The FUSE holder sent an unexpected '{message.Type}'.");
                    return;
                }
            }
        }
        catch (Exception ex)
        {
            // On a thread of its own: anything that escaped would end the (serving) process.
            failure = ex;
        }
        finally
        {
            _channel.Dispose();
            TaskCompletionSource<(HolderMessage, SafeFileHandle?)>? reply;
            lock (_replyLock)
            {
                reply = _reply;
                _reply = null;
                _completion.TrySetResult();
            }

            reply?.TrySetException(new FuseHolderUnavailableException(
                $"The FUSE holder in {Directory} closed the connection{(failure is null ? "." : ": " + failure.Message)}", failure));
        }
    }
}

/// <summary>The holder's connection ended before it answered (e.g. it was exiting when idle).</summary>
internal sealed class FuseHolderUnavailableException(string message, Exception? inner = null) : FuseHolderException(message, inner!);
