using System.Net.Sockets;
using Accelerator.Linux;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Win32.SafeHandles;
using Types = Accelerator.Fuse.Takeover.FuseHolderProtocol.Types;

namespace Accelerator.Fuse.Takeover;

/// <summary>
/// The FUSE descriptor holder: keeps a copy of each deposited <c>/dev/fuse</c> descriptor so that a FUSE connection
/// outlives the process serving it (a restart, an upgrade, a crash), and hands it to the process that claims it next.
/// Listens on <c>DIR/holder.sock</c> (directory 0700, socket 0600; a peer whose uid is not the holder's is
/// disconnected), keeps <c>key → (descriptor, state, owner)</c>, drops an entry when its descriptor reports POLLERR or
/// POLLHUP (the connection was unmounted or aborted), and exits once it has held nothing and had no client for
/// <see cref="FuseHolderOptions.IdleExit"/>. It never reads or writes the devices and opens no path a client names:
/// keys are names.
/// </summary>
/// <remarks>
/// A claim of a key whose owner is connected asks that owner to release it (it stops serving without unmounting and
/// exits, closing its connection), waits up to the claimant's timeout, SIGKILLs the owner if it is still there, and
/// only then answers: a claimant never serves beside its predecessor. One holder per directory (<c>holder.lock</c>);
/// a second one finds it locked and returns at once.
/// </remarks>
public sealed partial class FuseHolder
{
    /// <summary>The socket's name in the holder's directory.</summary>
    public const string SocketName = "holder.sock";

    /// <summary>The lock file's name in the holder's directory (held while a holder runs).</summary>
    public const string LockName = "holder.lock";

    // /dev/fuse is the misc device 10:229 (Documentation/admin-guide/devices.txt).
    private const uint FuseDeviceMajor = 10;
    private const uint FuseDeviceMinor = 229;

    // How long to wait for a SIGKILLed owner's connection to close.
    private static readonly TimeSpan KillWait = TimeSpan.FromSeconds(10);

    private readonly FuseHolderOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly HashSet<Client> _clients = [];
    private readonly TaskCompletionSource _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stop = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private FuseDeviceWatcher<Entry>? _watcher;
    private ITimer? _idleTimer;
    private long _idleGeneration;

    /// <summary>Creates a holder; <see cref="RunAsync"/> serves.</summary>
    /// <param name="options">Options; validated here.</param>
    /// <param name="logger">Where to log; nothing when null.</param>
    /// <param name="timeProvider">Time for the idle exit; the system clock when null.</param>
    public FuseHolder(FuseHolderOptions options, ILogger<FuseHolder>? logger = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        FuseOptionsValidation.ThrowIfInvalid(new FuseHolderOptionsValidator(), options, "FUSE holder");
        _options = options;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _time = timeProvider ?? TimeProvider.System;
        Directory = Path.GetFullPath(options.Directory);
        SocketPath = Path.Combine(Directory, SocketName);
    }

    /// <summary>The holder's directory (full path).</summary>
    public string Directory { get; }

    /// <summary>Where it listens.</summary>
    public string SocketPath { get; }

    /// <summary>Completes once the holder listens (or when <see cref="RunAsync"/> ended before).</summary>
    public Task Listening => _listening.Task;

    /// <summary>Completes when the holder decided to stop (idle, or cancelled), before it cleaned up.</summary>
    internal Task Stopping => _stop.Task;

    /// <summary>How many connections it holds now.</summary>
    public int HeldCount
    {
        get
        {
            lock (_lock)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>
    /// Serves until idle for <see cref="FuseHolderOptions.IdleExit"/> or until <paramref name="cancellationToken"/> is
    /// cancelled (then every held descriptor is closed: a connection whose server is gone ends with it).
    /// </summary>
    /// <returns>True when this holder served; false when another holder already serves the directory.</returns>
    /// <exception cref="UnauthorizedAccessException">The directory belongs to another user.</exception>
    /// <exception cref="IOException">The socket cannot be created.</exception>
    public async Task<bool> RunAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            PrivateDirectory.Create(Directory);
            string lockPath = Path.Combine(Directory, LockName);
            int lockFd = LibC.Open(lockPath, LibC.O_RDWR | LibC.O_CREAT | LibC.O_CLOEXEC, 0x180);
            LibC.Check(lockFd, "open", lockPath);
            using var lockFile = new SafeFileHandle(lockFd, ownsHandle: true);
            if (LibC.Flock(lockFd, LibC.LOCK_EX | LibC.LOCK_NB) != 0)
            {
                LogAlreadyRunning(Directory);
                return false;
            }

            using var watcher = new FuseDeviceWatcher<Entry>(SnapshotEntries, e => e.Device, Drop, LogPollFailed);
            _watcher = watcher;
            using var listener = Listen();
            LogListening(SocketPath, Environment.ProcessId);
            _listening.TrySetResult();
            watcher.Start();
            ArmIdleTimer();
            using var stopping = cancellationToken.Register(() => _stop.TrySetResult());
            var accepting = AcceptLoopAsync(listener);
            await _stop.Task.ConfigureAwait(false);

            // Stop taking clients first, so that none arrives between the last check and the socket's removal.
            File.Delete(SocketPath);
            listener.Dispose();
            await accepting.ConfigureAwait(false);
            Shutdown();
            return true;
        }
        finally
        {
            _listening.TrySetResult();
            _idleTimer?.Dispose();
        }
    }

    private Socket Listen()
    {
        if (File.Exists(SocketPath))
        {
            // Left by a holder that died: the lock says none runs now.
            File.Delete(SocketPath);
        }

        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(SocketPath));
            File.SetUnixFileMode(SocketPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            listener.Listen(64);
            return listener;
        }
        catch
        {
            listener.Dispose();
            throw;
        }
    }

    private async Task AcceptLoopAsync(Socket listener)
    {
        while (true)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is ObjectDisposedException or SocketException)
            {
                return;
            }

            Accept(socket);
        }
    }

    private void Accept(Socket socket)
    {
        DescriptorSocket connection;
        try
        {
            connection = new DescriptorSocket(socket);
        }
        catch (Exception ex) when (ex is IOException or ArgumentException)
        {
            socket.Dispose();
            return;
        }

        var peer = connection.Peer;
        if (peer.UserId != LibC.Geteuid())
        {
            // The directory is 0700 and the socket 0600, so this takes a changed mode or a privileged peer; refuse anyway.
            LogForeignPeer(peer.ProcessId, peer.UserId, LibC.Geteuid());
            connection.Dispose();
            return;
        }

        var client = new Client(new FuseHolderChannel(connection));
        lock (_lock)
        {
            if (_stop.Task.IsCompleted)
            {
                client.Channel.Dispose();
                return;
            }

            _clients.Add(client);
            _idleGeneration++;
        }

        LogClientConnected(peer.ProcessId);
        var thread = new Thread(() => Serve(client)) { IsBackground = true, Name = $"fuse-holder-client-{peer.ProcessId}" };
        thread.Start();
    }

    private void Serve(Client client)
    {
        try
        {
            while (true)
            {
                HolderMessage? request;
                SafeFileHandle? descriptor;
                try
                {
                    request = client.Channel.Receive(out descriptor);
                }
                catch (FuseHolderException ex)
                {
                    // The stream cannot be trusted past a bad frame: say why once, then close.
                    LogBadFrame(client.Pid, ex.Message);
                    TrySend(client, new HolderMessage { Type = Types.Error, Error = ex.Message });
                    return;
                }

                if (request is null)
                {
                    return;
                }

                SafeFileHandle? replyDescriptor = null;
                try
                {
                    HolderMessage reply;
                    try
                    {
                        reply = Handle(client, request, ref descriptor, out replyDescriptor);
                    }
                    catch (Exception ex) when (ex is FuseHolderException or IOException or ArgumentException)
                    {
                        reply = new HolderMessage { Type = Types.Error, Error = ex.Message };
                    }

                    if (!TrySend(client, reply, replyDescriptor))
                    {
                        return;
                    }
                }
                finally
                {
                    // A deposit took the descriptor (null here); any other one is refused and closed.
                    descriptor?.Dispose();

                    // A claimed device was referenced under the lock, so a concurrent forget could not close it before it went out.
                    replyDescriptor?.DangerousRelease();
                }
            }
        }
        catch (Exception ex)
        {
            // Whatever went wrong with one client must not end the holder (and every mount it keeps alive).
            LogClientFailed(client.Pid, ex.Message);
        }
        finally
        {
            Disconnect(client);
        }
    }

    private HolderMessage Handle(Client client, HolderMessage request, ref SafeFileHandle? descriptor, out SafeFileHandle? replyDescriptor)
    {
        replyDescriptor = null;
        if (request.Type != Types.Deposit && descriptor is not null)
        {
            throw new FuseHolderException($"A '{request.Type}' request carries no descriptor.");
        }

        switch (request.Type)
        {
            case Types.Hello:
                return new HolderMessage { Type = Types.Welcome, Pid = Environment.ProcessId };
            case Types.Deposit:
                Deposit(client, request, ref descriptor);
                return new HolderMessage { Type = Types.Ok };
            case Types.Claim:
                return Claim(client, request, out replyDescriptor);
            case Types.Forget:
                return new HolderMessage { Type = Types.Ok, Held = Forget(client, Key(request)) };
            case Types.List:
                return List(request.After);
            default:
                throw new FuseHolderException($"Unknown request '{request.Type}'.");
        }
    }

    private static string Key(HolderMessage request) =>
        FuseHolderProtocol.CheckKey(request.Key) is { } problem ? throw new FuseHolderException(problem) : request.Key!;

    private void Deposit(Client client, HolderMessage request, ref SafeFileHandle? descriptor)
    {
        string key = Key(request);
        if (FuseHolderProtocol.CheckState(request.State) is { } problem)
        {
            throw new FuseHolderException(problem);
        }

        if (descriptor is null)
        {
            throw new FuseHolderException("A deposit must carry the /dev/fuse descriptor.");
        }

        var status = LibC.Fstat((int)descriptor.DangerousGetHandle());
        if (status.Type != LibC.S_IFCHR || status.RdevMajor != FuseDeviceMajor || status.RdevMinor != FuseDeviceMinor)
        {
            throw new FuseHolderException("The descriptor deposited is not /dev/fuse.");
        }

        SafeFileHandle? replaced = null;
        lock (_lock)
        {
            if (_entries.TryGetValue(key, out var existing))
            {
                if (existing.Owner != client)
                {
                    throw new FuseHolderException(existing.Owner is { } owner
                        ? $"'{key}' is held for process {owner.Pid}; claim it first."
                        : $"'{key}' is held (its owner is gone); claim or forget it first.");
                }

                replaced = existing.Device;
                _entries.Remove(key);
            }
            else if (_entries.Count >= FuseHolderProtocol.MaxEntries)
            {
                throw new FuseHolderException($"The holder keeps at most {FuseHolderProtocol.MaxEntries} connections.");
            }

            _entries[key] = new Entry(key, descriptor, request.State!) { Owner = client, LastOwner = client };
            descriptor = null;
            _idleGeneration++;
        }

        replaced?.Dispose();
        _watcher?.Changed();
        LogDeposited(key, client.Pid, HeldCount);
    }

    private HolderMessage Claim(Client client, HolderMessage request, out SafeFileHandle? replyDescriptor)
    {
        replyDescriptor = null;
        string key = Key(request);
        long milliseconds = request.ReleaseTimeoutMilliseconds ?? 0;
        if (milliseconds < 0 || milliseconds > (long)FuseHolderProtocol.MaxReleaseTimeout.TotalMilliseconds)
        {
            throw new FuseHolderException($"The release timeout must be 0 to {FuseHolderProtocol.MaxReleaseTimeout.TotalSeconds} s.");
        }

        Entry entry;
        Client? owner;
        lock (_lock)
        {
            if (!_entries.TryGetValue(key, out entry!))
            {
                return new HolderMessage { Type = Types.NotHeld, Key = key };
            }

            if (entry.Claiming)
            {
                throw new FuseHolderException($"'{key}' is being claimed by another process.");
            }

            owner = entry.Owner == client ? null : entry.Owner;
            entry.Claiming = owner is not null;
        }

        try
        {
            if (owner is not null)
            {
                LogReleasing(key, owner.Pid, client.Pid);
                WaitForRelease(owner, client, key, TimeSpan.FromMilliseconds(milliseconds));
            }

            lock (_lock)
            {
                if (!_entries.TryGetValue(key, out var current) || current != entry)
                {
                    // Forgotten, or its connection ended, while the owner let go.
                    return new HolderMessage { Type = Types.NotHeld, Key = key };
                }

                int? predecessor = entry.LastOwner is { } last && last != client ? last.Pid : null;
                entry.Owner = client;
                entry.LastOwner = client;
                bool added = false;
                entry.Device.DangerousAddRef(ref added);
                replyDescriptor = entry.Device;
                LogClaimed(key, client.Pid, predecessor);
                return new HolderMessage { Type = Types.Claimed, Key = key, State = entry.State, Pid = predecessor };
            }
        }
        finally
        {
            lock (_lock)
            {
                entry.Claiming = false;
            }
        }
    }

    // Asks the owner to let go and waits for its connection to close; kills it if it does not.
    private void WaitForRelease(Client owner, Client claimant, string key, TimeSpan timeout)
    {
        TrySend(owner, new HolderMessage { Type = Types.Release, Keys = [key] });
        if (owner.Closed.Wait(timeout))
        {
            return;
        }

        if (owner.Pid == Environment.ProcessId || owner.Pid == claimant.Pid)
        {
            // The owner lives in the claimant's (or this) process, which must have stopped serving it: never kill ourselves.
            LogOwnerDisconnected(key, owner.Pid, timeout);
            owner.Channel.Dispose();
        }
        else
        {
            LogKillingOwner(key, owner.Pid, timeout);
            int errno = LibC.Kill(owner.Pid, LibC.SIGKILL);
            if (errno != 0 && !owner.Closed.IsSet)
            {
                throw new FuseHolderException($"Process {owner.Pid} did not release '{key}' within {timeout} and cannot be killed: {LibC.Message(errno)}.");
            }
        }

        if (!owner.Closed.Wait(KillWait))
        {
            throw new FuseHolderException($"Process {owner.Pid} still holds its holder connection {KillWait} after being killed; '{key}' stays with it.");
        }
    }

    private bool Forget(Client client, string key)
    {
        Entry? entry;
        lock (_lock)
        {
            if (!_entries.Remove(key, out entry))
            {
                return false;
            }

            _idleGeneration++;
            ArmIdleTimerLocked();
        }

        entry.Device.Dispose();
        _watcher?.Changed();
        LogForgotten(key, client.Pid, HeldCount);
        return true;
    }

    private HolderMessage List(string? after)
    {
        var entries = new List<HeldEntry>();
        bool more = false;
        lock (_lock)
        {
            int size = 256;
            foreach (var entry in _entries.Values.Where(e => after is null || string.CompareOrdinal(e.Key, after) > 0).OrderBy(e => e.Key, StringComparer.Ordinal))
            {
                var held = new HeldEntry { Key = entry.Key, OwnerPid = entry.Owner?.Pid, State = entry.State };
                size += FuseHolderProtocol.EncodedSize(held);
                if (size > FuseHolderProtocol.MaxMessageBytes && entries.Count > 0)
                {
                    more = true;
                    break;
                }

                entries.Add(held);
            }
        }

        return new HolderMessage { Type = Types.Listing, Entries = entries, More = more };
    }

    private bool TrySend(Client client, HolderMessage message, SafeFileHandle? descriptor = null)
    {
        try
        {
            client.Channel.Send(message, descriptor);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }

    private void Disconnect(Client client)
    {
        client.Channel.Dispose();
        var orphaned = new List<string>();
        lock (_lock)
        {
            _clients.Remove(client);
            foreach (var entry in _entries.Values.Where(e => e.Owner == client))
            {
                entry.Owner = null;
                orphaned.Add(entry.Key);
            }

            _idleGeneration++;
            ArmIdleTimerLocked();
        }

        client.Closed.Set();
        LogClientDisconnected(client.Pid, orphaned.Count);
    }

    private void ArmIdleTimer()
    {
        lock (_lock)
        {
            ArmIdleTimerLocked();
        }
    }

    // Called under the lock that changed the counts, so that whoever sees the holder idle also finds the timer armed.
    private void ArmIdleTimerLocked()
    {
        if (_entries.Count > 0 || _clients.Count > 0 || _stop.Task.IsCompleted)
        {
            return;
        }

        long generation = ++_idleGeneration;
        _idleTimer?.Dispose();
        _idleTimer = _time.CreateTimer(_ => ExitIfStillIdle(generation), null, _options.IdleExit, Timeout.InfiniteTimeSpan);
    }

    private void ExitIfStillIdle(long generation)
    {
        lock (_lock)
        {
            if (generation != _idleGeneration || _entries.Count > 0 || _clients.Count > 0)
            {
                return;
            }

            LogIdleExit(_options.IdleExit);
            _stop.TrySetResult();
        }
    }

    private void Shutdown()
    {
        List<Client> clients;
        List<Entry> entries;
        lock (_lock)
        {
            clients = [.. _clients];
            entries = [.. _entries.Values];
            _entries.Clear();
        }

        foreach (var client in clients)
        {
            client.Channel.Dispose();
        }

        if (entries.Count > 0)
        {
            LogStoppingWithEntries(entries.Count, string.Join(", ", entries.Select(e => e.Key)));
        }

        foreach (var entry in entries)
        {
            entry.Device.Dispose();
        }
    }

    private List<Entry> SnapshotEntries()
    {
        lock (_lock)
        {
            return [.. _entries.Values];
        }
    }

    // Its connection ended (POLLERR/POLLHUP on the held descriptor): nothing to hand over any more.
    private void Drop(Entry entry)
    {
        lock (_lock)
        {
            if (!_entries.TryGetValue(entry.Key, out var current) || current != entry)
            {
                return;
            }

            _entries.Remove(entry.Key);
            _idleGeneration++;
            ArmIdleTimerLocked();
        }

        entry.Device.Dispose();
        LogConnectionEnded(entry.Key, HeldCount);
    }

    private sealed class Entry(string key, SafeFileHandle device, string state)
    {
        public string Key { get; } = key;

        public SafeFileHandle Device { get; } = device;

        public string State { get; } = state;

        public Client? Owner { get; set; }

        // The owner before, connected or not: the claimant's predecessor.
        public Client? LastOwner { get; set; }

        public bool Claiming { get; set; }
    }

    private sealed class Client(FuseHolderChannel channel)
    {
        public FuseHolderChannel Channel { get; } = channel;

        public int Pid { get; } = channel.Peer.ProcessId;

        public ManualResetEventSlim Closed { get; } = new();
    }
}
