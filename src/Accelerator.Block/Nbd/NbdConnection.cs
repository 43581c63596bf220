using System.Buffers;
using System.Net.Sockets;
using System.Security.Authentication;
using Accelerator.Block.Nbd.Protocol;
using Microsoft.Extensions.Logging;

namespace Accelerator.Block.Nbd;

/// <summary>
/// One client of an <see cref="NbdServer"/>: the handshake (bounded by the handshake timeout), then the transmission
/// loop. Requests are read in order by one loop; each is served on its own task (up to
/// <see cref="NbdServerOptions.MaxRequestsInFlight"/>), and replies go out whole, one at a time.
/// </summary>
internal sealed partial class NbdConnection
{
    // Option data larger than this is never meaningful here (names are at most 4096 bytes).
    private const int MaxOptionData = 16 * 1024;

    // Larger option data is discarded (and answered NBD_REP_ERR_TOO_BIG) only up to this; beyond, the client is cut off.
    private const int MaxDiscardedOptionData = 1024 * 1024;

    private readonly NbdServer _server;
    private readonly Socket _socket;
    private readonly NetworkStream _network;

    // The socket's stream, or the TLS stream over it after NBD_OPT_STARTTLS; replies are written to it.
    private Stream _transport;

    // Reads of the transmission phase go through a buffer; the handshake reads the transport directly, so nothing the
    // client sends after STARTTLS can sit in a buffer under the TLS stream.
    private BufferedStream? _input;
    private readonly CancellationTokenSource _idle = new();
    private ITimer? _idleTimer;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private const uint PayloadUnit = 1024 * 1024;

    private readonly SemaphoreSlim _inFlight;
    private readonly SemaphoreSlim _payloadBudget;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private CancellationTokenSource? _requests;

    public NbdConnection(NbdServer server, Socket socket, long id, ILogger logger)
    {
        _server = server;
        _socket = socket;
        _network = new NetworkStream(socket, ownsSocket: true);
        _transport = _network;
        _inFlight = new SemaphoreSlim(server.Options.MaxRequestsInFlight, server.Options.MaxRequestsInFlight);
        int units = (int)(server.Options.MaxPayloadBytesInFlight / PayloadUnit);
        _payloadBudget = new SemaphoreSlim(units, units);
        Id = id;
        _logger = logger;
    }

    public long Id { get; }

    /// <summary>Completes when the connection is closed.</summary>
    public Task Completion => _completion.Task;

    public void Start(CancellationToken stopping, Action closed)
        => _ = Task.Run(async () =>
        {
            try
            {
                await RunAsync(stopping).ConfigureAwait(false);
            }
            finally
            {
                closed();
                _completion.TrySetResult();
            }
        });

    private async Task RunAsync(CancellationToken stopping)
    {
        NbdExport? export = null;
        if (_server.Options.IdleTimeout != Timeout.InfiniteTimeSpan)
        {
            _idleTimer = _server.Time.CreateTimer(_ => OnIdle(), null, _server.Options.IdleTimeout, Timeout.InfiniteTimeSpan);
        }

        try
        {
            using (var timeout = new CancellationTokenSource(_server.Options.HandshakeTimeout, _server.Time))
            using (var handshake = CancellationTokenSource.CreateLinkedTokenSource(stopping, timeout.Token, _idle.Token))
            {
                try
                {
                    export = await HandshakeAsync(handshake.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (timeout.IsCancellationRequested && !stopping.IsCancellationRequested)
                {
                    LogHandshakeTimeout(Id, _server.Options.HandshakeTimeout);
                    return;
                }
            }

            if (export is null)
            {
                return;
            }

            LogTransmission(Id, export.Name, export.IsReadOnly);
            _input = new BufferedStream(_transport, 64 * 1024);
            using var reading = CancellationTokenSource.CreateLinkedTokenSource(stopping, _idle.Token);
            await TransmitAsync(export, reading.Token, stopping).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
        catch (OperationCanceledException) when (_idle.IsCancellationRequested)
        {
            LogIdleTimeout(Id, _server.Options.IdleTimeout);
        }
        catch (AuthenticationException ex)
        {
            LogTlsFailed(Id, ex.Message);
        }
        catch (NbdProtocolException ex)
        {
            LogProtocolViolation(Id, ex.Message);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            LogConnectionLost(Id, ex.Message);
        }
        catch (Exception ex)
        {
            LogConnectionFailed(Id, ex);
        }
        finally
        {
            if (_idleTimer is not null)
            {
                await _idleTimer.DisposeAsync().ConfigureAwait(false);
            }

            await DrainAsync().ConfigureAwait(false);
            _requests?.Dispose();
            if (_input is not null)
            {
                await _input.DisposeAsync().ConfigureAwait(false);
            }

            await _transport.DisposeAsync().ConfigureAwait(false);
            await _network.DisposeAsync().ConfigureAwait(false);
            _socket.Dispose();
            _idle.Dispose();
            LogClosed(Id);
        }
    }

    // Waits for requests in flight (they may still reply), up to the shutdown timeout, then cancels them.
    private async Task DrainAsync()
    {
        int max = _server.Options.MaxRequestsInFlight;
        using var timeout = new CancellationTokenSource(_server.Options.ShutdownTimeout, _server.Time);
        int acquired = 0;
        try
        {
            for (; acquired < max; acquired++)
            {
                await _inFlight.WaitAsync(timeout.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            if (_requests is { } requests)
            {
                await requests.CancelAsync().ConfigureAwait(false);
            }
        }
    }

    private async ValueTask ReadExactlyAsync(Memory<byte> buffer, CancellationToken cancellationToken)
        => await (_input ?? _transport).ReadExactlyAsync(buffer, cancellationToken).ConfigureAwait(false);

    // The client did something (an option, a request): the idle clock starts again.
    private void ResetIdleTimer() => _idleTimer?.Change(_server.Options.IdleTimeout, Timeout.InfiniteTimeSpan);

    // Silent for the idle timeout: disconnect, unless a request of its own is still being served (the client is waiting
    // for us, not idle), in which case look again later.
    private void OnIdle()
    {
        if (_inFlight.CurrentCount < _server.Options.MaxRequestsInFlight)
        {
            ResetIdleTimer();
            return;
        }

        try
        {
            _idle.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private async ValueTask SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _transport.WriteAsync(message, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private static byte[] Rent(int length) => ArrayPool<byte>.Shared.Rent(length);

    private static void Return(byte[] buffer) => ArrayPool<byte>.Shared.Return(buffer);
}
