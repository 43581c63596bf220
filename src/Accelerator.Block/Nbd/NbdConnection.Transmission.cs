using Accelerator.Block.Nbd.Protocol;

namespace Accelerator.Block.Nbd;

internal sealed partial class NbdConnection
{
    // reading: cancelled when the server stops or the client was idle too long; stopping: only when the server stops.
    private async Task TransmitAsync(NbdExport export, CancellationToken reading, CancellationToken stopping)
    {
        _requests = new CancellationTokenSource();
        var requests = _requests.Token;
        ulong size = (ulong)export.Disk.Size;
        byte[] header = new byte[NbdLimits.RequestSize];
        while (true)
        {
            try
            {
                await ReadExactlyAsync(header, reading).ConfigureAwait(false);
            }
            catch (EndOfStreamException)
            {
                // A hard disconnect by the client: nothing more to read; requests in flight still finish.
                LogClientClosed(Id);
                return;
            }

            ResetIdleTimer();
            NbdRequest.TryRead(header, out var request);
            if (request.Command == NbdCommand.Disconnect)
            {
                // "The server MUST handle all outstanding requests ... and close": DrainAsync waits for them.
                LogDisconnect(Id);
                return;
            }

            var error = NbdRequestRules.Check(request, size, export.Flags);
            byte[]? payload = null;
            if (request.Command == NbdCommand.Write)
            {
                if (request.Length > NbdLimits.MaxPayload)
                {
                    // The payload follows and cannot be skipped cheaply; the spec lets the server treat a payload this
                    // large as a denial of service ("MAY initiate a hard disconnect"). Answer, then disconnect.
                    await ReplyAsync(request.Cookie, NbdError.InvalidArgument, requests).ConfigureAwait(false);
                    throw new NbdProtocolException($"A WRITE of {request.Length} bytes exceeds the 32 MiB maximum payload.");
                }

                await AcquirePayloadAsync(request.Length, stopping).ConfigureAwait(false);
                payload = Rent((int)request.Length);
                try
                {
                    await ReadExactlyAsync(payload.AsMemory(0, (int)request.Length), reading).ConfigureAwait(false);
                }
                catch
                {
                    Return(payload);
                    throw;
                }
            }

            if (error != NbdError.None)
            {
                if (payload is not null)
                {
                    Return(payload);
                    ReleasePayload(request.Length);
                }

                LogRequestRefused(Id, request.Command, request.Flags, request.Offset, request.Length, error);
                await ReplyAsync(request.Cookie, error, requests).ConfigureAwait(false);
                continue;
            }

            try
            {
                if (request.Command == NbdCommand.Read)
                {
                    await AcquirePayloadAsync(request.Length, stopping).ConfigureAwait(false);
                }

                await _inFlight.WaitAsync(stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                if (payload is not null)
                {
                    Return(payload);
                }

                throw;
            }

            _ = ServeAsync(export, request, payload, requests);
        }
    }

    private async Task ServeAsync(NbdExport export, NbdRequest request, byte[]? payload, CancellationToken cancellationToken)
    {
        try
        {
            if (request.Command == NbdCommand.Read)
            {
                await ReadAsync(export, request, cancellationToken).ConfigureAwait(false);
                return;
            }

            var error = NbdError.None;
            try
            {
                var disk = export.Disk;
                bool fua = (request.Flags & NbdCommandFlags.Fua) != 0;
                switch (request.Command)
                {
                    case NbdCommand.Write:
                        await disk.WriteAsync((long)request.Offset, payload.AsMemory(0, (int)request.Length), cancellationToken).ConfigureAwait(false);
                        _server.Statistics.AddWritten(request.Length);
                        break;
                    case NbdCommand.Flush:
                        fua = true;
                        break;
                    case NbdCommand.Trim:
                        await disk.TrimAsync((long)request.Offset, request.Length, cancellationToken).ConfigureAwait(false);
                        break;
                    case NbdCommand.WriteZeroes:
                        await disk.WriteZeroesAsync((long)request.Offset, request.Length, cancellationToken).ConfigureAwait(false);
                        break;
                }

                if (fua)
                {
                    await disk.FlushAsync(cancellationToken).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                error = MapError(request, ex);
            }

            await ReplyAsync(request.Cookie, error, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // The reply could not be sent: the connection is going away; the read loop sees it too.
            LogReplyFailed(Id, request.Command, ex.Message);
        }
        finally
        {
            if (payload is not null)
            {
                Return(payload);
            }

            if (request.Command is NbdCommand.Read or NbdCommand.Write)
            {
                ReleasePayload(request.Length);
            }

            _inFlight.Release();
        }
    }

    // The reply header and the data go out in one write, from one buffer: the disk reads straight behind the header.
    private async Task ReadAsync(NbdExport export, NbdRequest request, CancellationToken cancellationToken)
    {
        int length = (int)request.Length;
        byte[] buffer = Rent(NbdLimits.SimpleReplySize + length);
        try
        {
            var error = NbdError.None;
            try
            {
                await export.Disk.ReadAsync((long)request.Offset, buffer.AsMemory(NbdLimits.SimpleReplySize, length), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                error = MapError(request, ex);
            }

            if (error != NbdError.None)
            {
                // "If it chooses not to [disconnect], it MUST NOT send any payload for this request."
                await ReplyAsync(request.Cookie, error, cancellationToken).ConfigureAwait(false);
                return;
            }

            new NbdSimpleReply(NbdError.None, request.Cookie).Write(buffer);
            await SendAsync(buffer.AsMemory(0, NbdLimits.SimpleReplySize + length), cancellationToken).ConfigureAwait(false);
            _server.Statistics.AddReply(error: false);
            _server.Statistics.AddRead(length);
        }
        finally
        {
            Return(buffer);
        }
    }

    private async ValueTask ReplyAsync(ulong cookie, NbdError error, CancellationToken cancellationToken)
    {
        byte[] reply = new byte[NbdLimits.SimpleReplySize];
        new NbdSimpleReply(error, cookie).Write(reply);
        await SendAsync(reply, cancellationToken).ConfigureAwait(false);
        _server.Statistics.AddReply(error != NbdError.None);
    }

    // IVirtualDisk's contract: out of range → ArgumentOutOfRangeException, read-only → NotSupportedException, a backend
    // that cannot give verified bytes → IOException.
    private NbdError MapError(in NbdRequest request, Exception exception)
    {
        var error = exception switch
        {
            ArgumentOutOfRangeException => request.Command is NbdCommand.Write or NbdCommand.WriteZeroes ? NbdError.NoSpace : NbdError.InvalidArgument,
            NotSupportedException => NbdError.PermissionDenied,
            OperationCanceledException => NbdError.Shutdown,
            _ => NbdError.IO,
        };
        LogRequestFailed(Id, request.Command, request.Offset, request.Length, error, exception);
        return error;
    }

    // READ and WRITE payloads in flight are bounded in 1 MiB units (MaxPayloadBytesInFlight), so 32 requests of 32 MiB
    // cannot make a connection hold 1 GiB of buffers. Only the read loop acquires, so waiting for several units is safe.
    private static int PayloadUnits(uint length) => (int)Math.Max(1, (length + PayloadUnit - 1) / PayloadUnit);

    private async ValueTask AcquirePayloadAsync(uint length, CancellationToken cancellationToken)
    {
        for (int i = PayloadUnits(length); i > 0; i--)
        {
            await _payloadBudget.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private void ReleasePayload(uint length) => _payloadBudget.Release(PayloadUnits(length));
}
