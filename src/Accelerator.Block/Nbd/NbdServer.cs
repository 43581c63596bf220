using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Accelerator.Linux;
using Accelerator.Oci.Validation;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Accelerator.Block.Nbd;

/// <summary>
/// An NBD server (NetworkBlockDevice/nbd doc/proto.md): fixed newstyle handshake with <c>NBD_OPT_GO</c>, <c>INFO</c>,
/// <c>LIST</c>, <c>ABORT</c> and <c>EXPORT_NAME</c>; simple replies; READ, WRITE, FLUSH, TRIM, WRITE_ZEROES and DISC,
/// many requests in flight per connection (read in order, served concurrently, replies written one at a time). Serves
/// several <see cref="NbdExport"/>s by name on unix sockets and TCP.
/// </summary>
/// <remarks>
/// A backend failure is answered <c>NBD_EIO</c> with no data — never zeros in place of bytes the disk could not give.
/// Structured replies are refused (<c>NBD_REP_ERR_UNSUP</c>), so every reply is a simple reply. A client that breaks a
/// MUST of the protocol (bad magic, unknown client flags, a WRITE payload over 32 MiB) is disconnected; the server
/// goes on serving others.
/// </remarks>
public sealed partial class NbdServer : IAsyncDisposable
{
    private readonly Dictionary<string, NbdExport> _exports;
    private readonly NbdServerOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Listener> _listeners = [];
    private readonly ConcurrentDictionary<long, NbdConnection> _connections = new();
    private long _nextConnection;
    private int _stopped;

    /// <summary>Creates a server for <paramref name="exports"/>; call <see cref="ListenAsync"/> to accept clients.</summary>
    /// <param name="exports">The exports, with distinct names.</param>
    /// <param name="options">Options; validated here.</param>
    /// <param name="logger">Where to log; nothing when null.</param>
    /// <param name="timeProvider">Time for the handshake timeout; the system clock when null.</param>
    /// <exception cref="ArgumentException">Options are invalid, names repeat, or the default export does not exist.</exception>
    public NbdServer(IEnumerable<NbdExport> exports, NbdServerOptions? options = null, ILogger<NbdServer>? logger = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(exports);
        options ??= new NbdServerOptions();
        new NbdServerOptionsValidator().ThrowIfInvalid(options, "NBD server");
        _exports = new Dictionary<string, NbdExport>(StringComparer.Ordinal);
        foreach (var export in exports)
        {
            if (!_exports.TryAdd(export.Name, export))
            {
                throw new ArgumentException($"Two exports are named '{export.Name}'.", nameof(exports));
            }
        }

        if (options.DefaultExport is { } name && !_exports.ContainsKey(name))
        {
            throw new ArgumentException($"The default export '{name}' is not among the exports.", nameof(options));
        }

        Exports = [.. _exports.Values];
        _options = options;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>The exports, in the order given.</summary>
    public IReadOnlyList<NbdExport> Exports { get; }

    /// <summary>Counters of what the server did.</summary>
    public NbdServerStatistics Statistics { get; } = new();

    /// <summary>Connections open now.</summary>
    public int ActiveConnections => _connections.Count;

    /// <summary>The endpoints listened on (TCP port 0 resolved to the port bound).</summary>
    public IReadOnlyList<NbdEndpoint> Endpoints
    {
        get
        {
            lock (_listeners)
            {
                return [.. _listeners.Select(l => l.Endpoint)];
            }
        }
    }

    internal NbdServerOptions Options => _options;

    internal TimeProvider Time => _time;

    /// <summary>
    /// Binds <paramref name="endpoint"/> and accepts clients in the background until stopped. A unix socket path left
    /// by a dead server is replaced; one a live server answers on is not.
    /// </summary>
    /// <returns>The endpoint bound (for TCP port 0, with the port chosen).</returns>
    /// <exception cref="IOException">The address is in use or cannot be bound.</exception>
    public Task<NbdEndpoint> ListenAsync(NbdEndpoint endpoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _stopped) != 0, this);
        cancellationToken.ThrowIfCancellationRequested();
        Socket socket;
        if (endpoint.UnixPath is { } path)
        {
            RemoveStaleSocket(path);
            socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        }
        else
        {
            var address = (IPEndPoint)endpoint.ToEndPoint();
            socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        }

        try
        {
            socket.Bind(endpoint.ToEndPoint());
            socket.Listen(128);
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            throw new IOException($"Cannot listen on {endpoint}: {ex.Message}", ex);
        }

        var bound = endpoint.IsUnix ? endpoint : NbdEndpoint.Tcp(endpoint.Host!, ((IPEndPoint)socket.LocalEndPoint!).Port);
        var listener = new Listener(socket, bound);
        lock (_listeners)
        {
            _listeners.Add(listener);
        }

        listener.Accepting = Task.Run(() => AcceptLoopAsync(listener));
        LogListening(bound.ToString(), Exports.Count);
        return Task.FromResult(bound);
    }

    /// <summary>
    /// Stops: closes the listeners, stops reading requests, lets requests in flight finish (up to
    /// <see cref="NbdServerOptions.ShutdownTimeout"/>), then closes every connection.
    /// </summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        Listener[] listeners;
        lock (_listeners)
        {
            listeners = [.. _listeners];
        }

        foreach (var listener in listeners)
        {
            listener.Socket.Dispose();
            if (listener.Accepting is { } accepting)
            {
                await accepting.ConfigureAwait(false);
            }

            if (listener.Endpoint.UnixPath is { } path)
            {
                TryDeleteSocket(path);
            }
        }

        await Task.WhenAll(_connections.Values.Select(c => c.Completion)).ConfigureAwait(false);
        LogStopped();
    }

    /// <summary>Stops the server (<see cref="StopAsync"/>). The exports' disks are not disposed.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    /// <summary>The export for <paramref name="name"/>: by name, or the default export for the empty name.</summary>
    internal NbdExport? FindExport(string name)
    {
        if (name.Length == 0)
        {
            name = _options.DefaultExport ?? (Exports.Count == 1 ? Exports[0].Name : string.Empty);
        }

        return _exports.GetValueOrDefault(name);
    }

    private async Task AcceptLoopAsync(Listener listener)
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.Socket.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                if (!_stopping.IsCancellationRequested)
                {
                    LogAcceptFailed(listener.Endpoint.ToString(), ex);
                }

                return;
            }

            long id = Interlocked.Increment(ref _nextConnection);
            if (_connections.Count >= _options.MaxConnections)
            {
                Statistics.AddRefused();
                LogConnectionRefused(id, _options.MaxConnections);
                client.Dispose();
                continue;
            }

            if (client.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6)
            {
                client.NoDelay = true;
            }

            TryEnlargeSendBuffer(client);

            var connection = new NbdConnection(this, client, id, _logger);
            _connections[id] = connection;
            Statistics.AddConnection();
            connection.Start(_stopping.Token, () => _connections.TryRemove(id, out _));
        }
    }

    // A 1 MiB READ reply fits a 4 MiB send buffer whole: one write, no wait for the client to drain a 208 KiB default
    // (the kernel caps the size at net.core.wmem_max).
    private static void TryEnlargeSendBuffer(Socket client)
    {
        try
        {
            client.SendBufferSize = 4 * 1024 * 1024;
        }
        catch (SocketException)
        {
        }
    }

    // Only a unix socket is ever replaced or deleted: a regular file, directory or symlink at PATH is someone's data.
    private static void RemoveStaleSocket(string path)
    {
        if (LibC.Lstat(LibC.AT_FDCWD, path) is not { } status)
        {
            return;
        }

        if (!status.IsSocket)
        {
            throw new IOException($"Cannot listen on unix:{path}: it exists and is not a socket.");
        }

        using (var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            try
            {
                probe.Connect(new UnixDomainSocketEndPoint(path));
                throw new IOException($"Another server is listening on unix:{path}.");
            }
            catch (SocketException)
            {
                // Nobody answers: a socket left by a server that died.
            }
        }

        File.Delete(path);
    }

    private static void TryDeleteSocket(string path)
    {
        try
        {
            if (LibC.Lstat(LibC.AT_FDCWD, path) is { IsSocket: true })
            {
                File.Delete(path);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
    }

    private sealed class Listener(Socket socket, NbdEndpoint endpoint)
    {
        public Socket Socket { get; } = socket;

        public NbdEndpoint Endpoint { get; } = endpoint;

        public Task? Accepting { get; set; }
    }
}

/// <summary>Counters of an <see cref="NbdServer"/>, safe to read while it serves.</summary>
public sealed class NbdServerStatistics
{
    private long _connections;
    private long _refused;
    private long _requests;
    private long _errors;
    private long _bytesRead;
    private long _bytesWritten;

    /// <summary>Connections accepted.</summary>
    public long Connections => Interlocked.Read(ref _connections);

    /// <summary>Connections refused because <see cref="NbdServerOptions.MaxConnections"/> were open.</summary>
    public long RefusedConnections => Interlocked.Read(ref _refused);

    /// <summary>Requests answered.</summary>
    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>Requests answered with an error.</summary>
    public long Errors => Interlocked.Read(ref _errors);

    /// <summary>Bytes read from exports and sent.</summary>
    public long BytesRead => Interlocked.Read(ref _bytesRead);

    /// <summary>Bytes received and written to exports.</summary>
    public long BytesWritten => Interlocked.Read(ref _bytesWritten);

    internal void AddConnection() => Interlocked.Increment(ref _connections);

    internal void AddRefused() => Interlocked.Increment(ref _refused);

    internal void AddReply(bool error)
    {
        Interlocked.Increment(ref _requests);
        if (error)
        {
            Interlocked.Increment(ref _errors);
        }
    }

    internal void AddRead(long bytes) => Interlocked.Add(ref _bytesRead, bytes);

    internal void AddWritten(long bytes) => Interlocked.Add(ref _bytesWritten, bytes);
}
