using System.Buffers.Binary;
using System.Net.Security;
using System.Text;
using Accelerator.Block.Nbd.Protocol;

namespace Accelerator.Block.Nbd;

internal sealed partial class NbdConnection
{
    private const NbdHandshakeFlags ServerFlags = NbdHandshakeFlags.FixedNewstyle | NbdHandshakeFlags.NoZeroes;

    /// <summary>Negotiates; returns the export to serve, or null when the client aborted or must be disconnected.</summary>
    private async Task<NbdExport?> HandshakeAsync(CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[NbdLimits.ExportNameReplySize + NbdLimits.ExportNamePadding + NbdLimits.OptionReplyHeaderSize];
        int length = NbdHandshake.WriteGreeting(buffer, ServerFlags);
        await SendAsync(buffer.AsMemory(0, length), cancellationToken).ConfigureAwait(false);

        await ReadExactlyAsync(buffer.AsMemory(0, 4), cancellationToken).ConfigureAwait(false);
        var clientFlags = NbdHandshake.ValidateClientFlags(BinaryPrimitives.ReadUInt32BigEndian(buffer), ServerFlags);
        bool noZeroes = (clientFlags & NbdClientFlags.NoZeroes) != 0;
        var tls = _server.Options.Tls;
        bool secured = false;

        while (true)
        {
            await ReadExactlyAsync(buffer.AsMemory(0, NbdLimits.OptionHeaderSize), cancellationToken).ConfigureAwait(false);
            ResetIdleTimer();
            NbdOptionHeader.TryRead(buffer, out var header);
            if (header.Length > MaxOptionData)
            {
                if (header.Length > MaxDiscardedOptionData)
                {
                    throw new NbdProtocolException($"Option {header.Option} carries {header.Length} bytes of data.");
                }

                await DiscardAsync(header.Length, cancellationToken).ConfigureAwait(false);
                await ReplyOptionAsync(header.Option, NbdOptionReplyType.ErrorTooBig, cancellationToken).ConfigureAwait(false);
                continue;
            }

            byte[] data = new byte[header.Length];
            await ReadExactlyAsync(data, cancellationToken).ConfigureAwait(false);
            LogOption(Id, header.Option, header.Length);
            if (tls is not null && !secured && header.Option is not (NbdOption.StartTls or NbdOption.Abort))
            {
                // FORCEDTLS: "If the server receives any other option, it MUST reply with NBD_REP_ERR_TLS_REQD if TLS has
                // not been initiated"; EXPORT_NAME cannot be answered with an error, so "it MUST terminate the session".
                LogTlsRequired(Id, header.Option);
                if (header.Option == NbdOption.ExportName)
                {
                    return null;
                }

                await ReplyOptionAsync(header.Option, NbdOptionReplyType.ErrorTlsRequired, cancellationToken).ConfigureAwait(false);
                continue;
            }

            switch (header.Option)
            {
                case NbdOption.ExportName:
                    return await ExportNameAsync(data, noZeroes, cancellationToken).ConfigureAwait(false);
                case NbdOption.Abort:
                    // "The server MUST reply with NBD_REP_ACK"; the client may already be gone.
                    try
                    {
                        await ReplyOptionAsync(header.Option, NbdOptionReplyType.Ack, cancellationToken).ConfigureAwait(false);
                    }
                    catch (IOException)
                    {
                    }

                    return null;
                case NbdOption.List:
                    await ListAsync(data, cancellationToken).ConfigureAwait(false);
                    break;
                case NbdOption.Info:
                case NbdOption.Go:
                    var export = await InfoAsync(header.Option, data, cancellationToken).ConfigureAwait(false);
                    if (export is not null && header.Option == NbdOption.Go)
                    {
                        return export;
                    }

                    break;
                case NbdOption.StructuredReply:
                    // Not supported: every reply is simple, which every client must accept ("clients SHOULD be prepared
                    // to also handle NBD_REP_ERR_UNSUP; in this case, no structured replies will be sent").
                    await ReplyOptionAsync(header.Option, data.Length == 0 ? NbdOptionReplyType.ErrorUnsupported : NbdOptionReplyType.ErrorInvalid, cancellationToken).ConfigureAwait(false);
                    break;
                case NbdOption.StartTls when tls is not null:
                    if (data.Length != 0 || secured)
                    {
                        // "If the server receives NBD_OPT_STARTTLS when TLS has already been negotiated, it MUST reply
                        // with NBD_REP_ERR_INVALID."
                        await ReplyOptionAsync(header.Option, NbdOptionReplyType.ErrorInvalid, cancellationToken).ConfigureAwait(false);
                        break;
                    }

                    await ReplyOptionAsync(header.Option, NbdOptionReplyType.Ack, cancellationToken).ConfigureAwait(false);
                    await StartTlsAsync(tls, cancellationToken).ConfigureAwait(false);
                    secured = true;
                    break;
                default:
                    // STARTTLS without TLS configured (NOTLS mode: NBD_REP_ERR_UNSUP), meta contexts (they need structured replies), extended headers, unknown.
                    await ReplyOptionAsync(header.Option, NbdOptionReplyType.ErrorUnsupported, cancellationToken).ConfigureAwait(false);
                    break;
            }
        }
    }

    // After the ACK "all further data MUST be sent and received over TLS"; a failed handshake ends the session (the
    // AuthenticationException reaches RunAsync).
    private async Task StartTlsAsync(NbdTlsOptions tls, CancellationToken cancellationToken)
    {
        var secure = new SslStream(_network, leaveInnerStreamOpen: true);
        _transport = secure;
        await secure.AuthenticateAsServerAsync(tls.CreateAuthenticationOptions(), cancellationToken).ConfigureAwait(false);
        LogTlsEstablished(Id, secure.SslProtocol, secure.RemoteCertificate is not null);
    }

    private async Task<NbdExport?> ExportNameAsync(byte[] data, bool noZeroes, CancellationToken cancellationToken)
    {
        string name = NbdInfoRequest.DecodeString(data);
        var export = _server.FindExport(name);
        if (export is null)
        {
            // "If the chosen export does not exist ... the server MUST terminate the session."
            LogUnknownExport(Id, name);
            return null;
        }

        byte[] reply = new byte[NbdLimits.ExportNameReplySize + NbdLimits.ExportNamePadding];
        int length = NbdHandshake.WriteExportNameReply(reply, (ulong)export.Disk.Size, export.Flags, noZeroes);
        await SendAsync(reply.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
        return export;
    }

    private async Task ListAsync(byte[] data, CancellationToken cancellationToken)
    {
        if (data.Length != 0)
        {
            await ReplyOptionAsync(NbdOption.List, NbdOptionReplyType.ErrorInvalid, cancellationToken).ConfigureAwait(false);
            return;
        }

        foreach (var export in _server.Exports)
        {
            byte[] reply = new byte[NbdLimits.OptionReplyHeaderSize + NbdOptionReplyData.ServerLength(export.Name, export.Description)];
            int length = NbdOptionReplyData.WriteServer(reply.AsSpan(NbdLimits.OptionReplyHeaderSize), export.Name, export.Description);
            new NbdOptionReplyHeader(NbdOption.List, NbdOptionReplyType.Server, (uint)length).Write(reply);
            await SendAsync(reply, cancellationToken).ConfigureAwait(false);
        }

        await ReplyOptionAsync(NbdOption.List, NbdOptionReplyType.Ack, cancellationToken).ConfigureAwait(false);
    }

    private async Task<NbdExport?> InfoAsync(NbdOption option, byte[] data, CancellationToken cancellationToken)
    {
        NbdInfoRequest request;
        try
        {
            request = NbdInfoRequest.Parse(data);
        }
        catch (NbdProtocolException ex)
        {
            LogBadOption(Id, option, ex.Message);
            await ReplyOptionAsync(option, NbdOptionReplyType.ErrorInvalid, cancellationToken).ConfigureAwait(false);
            return null;
        }

        var export = _server.FindExport(request.ExportName);
        if (export is null)
        {
            LogUnknownExport(Id, request.ExportName);
            await ReplyOptionAsync(option, NbdOptionReplyType.ErrorUnknown, cancellationToken).ConfigureAwait(false);
            return null;
        }

        // NBD_INFO_EXPORT always; the block sizes always too (a client that did not ask may ignore them): minimum 1 (any
        // alignment is served), preferred the disk's block size, maximum payload 32 MiB.
        await ReplyInfoAsync(option, NbdOptionReplyData.InfoExportSize, b => NbdOptionReplyData.WriteInfoExport(b, (ulong)export.Disk.Size, export.Flags), cancellationToken).ConfigureAwait(false);
        uint preferred = (uint)Math.Max(512, export.Disk.BlockSize);
        await ReplyInfoAsync(option, NbdOptionReplyData.InfoBlockSizeSize, b => NbdOptionReplyData.WriteInfoBlockSize(b, 1, preferred, NbdLimits.MaxPayload), cancellationToken).ConfigureAwait(false);
        if (request.Asks(NbdInfoType.Name))
        {
            await ReplyInfoAsync(option, 2 + Encoding.UTF8.GetByteCount(export.Name), b => NbdOptionReplyData.WriteInfoString(b, NbdInfoType.Name, export.Name), cancellationToken).ConfigureAwait(false);
        }

        if (request.Asks(NbdInfoType.Description) && export.Description is { } description)
        {
            await ReplyInfoAsync(option, 2 + Encoding.UTF8.GetByteCount(description), b => NbdOptionReplyData.WriteInfoString(b, NbdInfoType.Description, description), cancellationToken).ConfigureAwait(false);
        }

        await ReplyOptionAsync(option, NbdOptionReplyType.Ack, cancellationToken).ConfigureAwait(false);
        return export;
    }

    private async Task ReplyInfoAsync(NbdOption option, int length, Func<byte[], int> write, CancellationToken cancellationToken)
    {
        byte[] payload = new byte[length];
        int written = write(payload);
        byte[] reply = new byte[NbdLimits.OptionReplyHeaderSize + written];
        new NbdOptionReplyHeader(option, NbdOptionReplyType.Info, (uint)written).Write(reply);
        payload.AsSpan(0, written).CopyTo(reply.AsSpan(NbdLimits.OptionReplyHeaderSize));
        await SendAsync(reply, cancellationToken).ConfigureAwait(false);
    }

    private async Task ReplyOptionAsync(NbdOption option, NbdOptionReplyType type, CancellationToken cancellationToken)
    {
        byte[] reply = new byte[NbdLimits.OptionReplyHeaderSize];
        new NbdOptionReplyHeader(option, type, 0).Write(reply);
        if (type != NbdOptionReplyType.Ack)
        {
            LogOptionRefused(Id, option, type);
        }

        await SendAsync(reply, cancellationToken).ConfigureAwait(false);
    }

    private async Task DiscardAsync(long length, CancellationToken cancellationToken)
    {
        byte[] scratch = Rent(64 * 1024);
        try
        {
            while (length > 0)
            {
                int chunk = (int)Math.Min(length, scratch.Length);
                await ReadExactlyAsync(scratch.AsMemory(0, chunk), cancellationToken).ConfigureAwait(false);
                length -= chunk;
            }
        }
        finally
        {
            Return(scratch);
        }
    }
}
