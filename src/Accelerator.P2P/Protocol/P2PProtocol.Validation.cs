namespace Accelerator.P2P.Protocol;

public static partial class P2PProtocol
{
    /// <summary>Whether <paramref name="peerId"/> is a valid peer id: 1–128 characters of <c>[A-Za-z0-9._:-]</c>.</summary>
    public static bool IsValidPeerId(string? peerId)
    {
        if (string.IsNullOrEmpty(peerId) || peerId.Length > MaxPeerIdLength)
        {
            return false;
        }

        foreach (char c in peerId)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or ':' or '-'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Whether <paramref name="url"/> is an absolute http(s) URL without user info, query or fragment.</summary>
    public static bool IsValidPeerUrl(string? url)
        => url is { Length: > 0 and <= MaxNameLength }
            && Uri.TryCreate(url, UriKind.Absolute, out var uri)
            && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
            && uri.UserInfo.Length == 0 && uri.Query.Length == 0 && uri.Fragment.Length == 0;

    /// <summary>Validates a parsed message; returns the first problem, or <see langword="null"/>.</summary>
    internal static string? Validate(object message) => message switch
    {
        HeartbeatRequest m => ValidatePeer(m.Peer) ?? (m.FreeUploadSlots is < 0 or > 100_000 ? "freeUploadSlots out of range" : null),
        HeartbeatResponse m => m.IntervalMs is < 1 or > 3_600_000 ? "intervalMs out of range"
            : m.Preheat is null ? "preheat is null"
            : m.Preheat.Count > MaxPiecesPerRequest ? "too many preheat blobs"
            : m.Tokens is null || m.Tokens.Count > MaxResultsPerReport ? "tokens missing or too many"
            : m.PeerSecret is { Length: 0 or > MaxPeerSecretLength } ? "bad peerSecret"
            : FirstError(m.Preheat, ValidateBlob) ?? FirstError(m.Tokens, ValidateTaskToken),
        LeaveRequest m => IsValidPeerId(m.PeerId) ? null : "bad peerId",
        RegisterTaskRequest m => ValidatePeer(m.Peer) ?? ValidateBlob(m.Blob) ?? ValidateCredential(m.Credential),
        RegisterTaskResponse m => !Digest.TryParse(m.TaskId, out _) ? "bad taskId"
            : string.IsNullOrEmpty(m.Token) || m.Token.Length > 256 ? "bad token"
            : m.TokenExpiresInMs < 0 ? "tokenExpiresInMs out of range"
            : m.PeerSecret is { Length: 0 or > MaxPeerSecretLength } ? "bad peerSecret"
            : m.PieceSize is < MinPieceSize or > MaxPieceSize ? "pieceSize out of range"
            : m.Size < 0 || m.PieceCount is < 0 or > MaxPieceCount || m.PieceCount != PieceCountOf(m.Size, m.PieceSize) ? "size and pieceCount disagree"
            : null,
        ScheduleRequest m => !IsValidPeerId(m.PeerId) ? "bad peerId"
            : m.MaxPieces is < 1 or > MaxPiecesPerRequest ? "maxPieces out of range"
            : m.Wanted is { Count: > MaxPiecesPerRequest } ? "too many wanted pieces"
            : m.Wanted?.Any(i => i is < 0 or >= MaxPieceCount) == true ? "wanted piece out of range"
            : m.WaitMs is < 0 or > MaxScheduleWaitMs ? "waitMs out of range"
            : null,
        ScheduleResponse m => m.Pieces is null ? "pieces is null"
            : m.Pieces.Count > MaxPiecesPerRequest ? "too many pieces"
            : m.RetryAfterMs is < 0 or > 600_000 ? "retryAfterMs out of range"
            : m.Token is not null && ValidateTaskToken(m.Token) is { } tokenError ? tokenError
            : FirstError(m.Pieces, ValidateAssignment),
        PieceReportRequest m => !IsValidPeerId(m.PeerId) ? "bad peerId"
            : m.Results is null || m.Results.Count > MaxResultsPerReport ? "results missing or too many"
            : m.Evicted is { Count: > MaxResultsPerReport } ? "too many evicted pieces"
            : m.Evicted?.Any(i => i is < 0 or >= MaxPieceCount) == true ? "evicted piece out of range"
            : FirstError(m.Results, ValidateResult),
        TaskCompleteRequest m => IsValidPeerId(m.PeerId) ? null : "bad peerId",
        PreheatRequest m => string.IsNullOrEmpty(m.Image) || m.Image.Length > MaxNameLength || !ImageReference.TryParse(m.Image, out _) ? "bad image reference"
            : m.Platform is not null && (m.Platform.Length > 256 || !IsPlatform(m.Platform)) ? "bad platform"
            : ValidateCredential(m.Credential),
        PreheatResponse m => m.Blobs is null || m.Blobs.Count > MaxPiecesPerRequest ? "blobs missing or too many"
            : m.SeedPeers < 0 ? "seedPeers out of range"
            : FirstError(m.Blobs, ValidateBlob),
        ErrorResponse m => m.Error is null || m.Error.Length > MaxNameLength ? "bad error" : null,
        _ => $"{message.GetType().Name} is not a P2P message",
    };

    /// <summary>The number of pieces of a blob of <paramref name="size"/> bytes.</summary>
    public static int PieceCountOf(long size, int pieceSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pieceSize);
        long count = (size + pieceSize - 1) / pieceSize;
        return count > MaxPieceCount ? -1 : (int)count;
    }

    private static string? FirstError<T>(IReadOnlyList<T> items, Func<T, string?> validate)
    {
        foreach (var item in items)
        {
            string? error = item is null ? "null entry" : validate(item);
            if (error is not null)
            {
                return error;
            }
        }

        return null;
    }

    private static string? ValidatePeer(PeerInfo? peer)
    {
        if (peer is null)
        {
            return "peer is missing";
        }

        if (!IsValidPeerId(peer.PeerId))
        {
            return "bad peerId";
        }

        if (!IsValidPeerUrl(peer.Url))
        {
            return "bad peer url";
        }

        if (peer.UploadSlots is < 0 or > 100_000)
        {
            return "uploadSlots out of range";
        }

        var l = peer.Locality;
        if (l is not null && (TooLong(l.Host) || TooLong(l.Rack) || TooLong(l.Zone)))
        {
            return "locality label too long";
        }

        return null;
    }

    private static bool IsPlatform(string platform)
    {
        try
        {
            Platform.Parse(platform);
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    private static bool TooLong(string? label) => label is { Length: > 256 };

    private static string? ValidateTaskToken(TaskToken token)
        => !Digest.TryParse(token.TaskId, out _) ? "bad token taskId"
            : string.IsNullOrEmpty(token.Token) || token.Token.Length > 256 ? "bad token"
            : token.ExpiresInMs < 0 ? "token expiresInMs out of range"
            : null;

    private static string? ValidateBlob(BlobRef? blob)
    {
        if (blob is null)
        {
            return "blob is missing";
        }

        if (string.IsNullOrEmpty(blob.Registry) || blob.Registry.Length > 256 || blob.Registry.AsSpan().ContainsAny("/ \t\r\n@?#"))
        {
            return "bad registry";
        }

        if (string.IsNullOrEmpty(blob.Repository) || blob.Repository.Length > 256 || !IsRepositoryPath(blob.Repository))
        {
            return "bad repository";
        }

        if (!Digest.TryParse(blob.Digest, out _))
        {
            return "bad digest";
        }

        return blob.Size < -1 ? "size out of range" : null;
    }

    // Distribution spec: path components of [a-z0-9]+ separated by ., _, __ or -, joined with /.
    private static bool IsRepositoryPath(string repository)
    {
        foreach (string component in repository.Split('/'))
        {
            if (component.Length == 0 || !char.IsAsciiLetterLower(component[0]) && !char.IsAsciiDigit(component[0])
                || !char.IsAsciiLetterLower(component[^1]) && !char.IsAsciiDigit(component[^1]))
            {
                return false;
            }

            foreach (char c in component)
            {
                if (!(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '.' or '_' or '-'))
                {
                    return false;
                }
            }
        }

        return true;
    }

    private static string? ValidateCredential(RegistryCredential? credential)
        => credential is null ? null
            : credential.Username is { Length: > 1024 } || credential.Password is { Length: > 8192 } ? "credential too long"
            : credential.Password is not null && string.IsNullOrEmpty(credential.Username) ? "password without username"
            : credential.Authorization is { } authorization && (authorization.Length is 0 or > 8192 || credential.Username is not null
                || authorization.AsSpan().ContainsAny("\r\n\0")) ? "bad authorization"
            : null;

    private static string? ValidateAssignment(PieceAssignment piece)
    {
        if (piece.Index is < 0 or >= MaxPieceCount)
        {
            return "piece index out of range";
        }

        if (piece.Parents is null || piece.Parents.Count > 64)
        {
            return "parents missing or too many";
        }

        if (piece.FromOrigin)
        {
            return piece.Parents.Count == 0 ? null : "an origin piece has no parents";
        }

        if (!Digest.TryParse(piece.Digest, out _))
        {
            return "a piece from parents needs its digest";
        }

        return piece.Parents.Count == 0 ? "a piece from parents needs parents"
            : FirstError(piece.Parents, p => !IsValidPeerId(p.PeerId) ? "bad parent id" : !IsValidPeerUrl(p.Url) ? "bad parent url" : null);
    }

    private static string? ValidateResult(PieceResult result)
        => result.Index is < 0 or >= MaxPieceCount ? "piece index out of range"
            : result.Digest is not null && !Digest.TryParse(result.Digest, out _) ? "bad piece digest"
            : result.ParentId is not null && !IsValidPeerId(result.ParentId) ? "bad parentId"
            : !Enum.IsDefined(result.Failure) ? "unknown failure"
            : result.Success != (result.Failure == PieceFailure.None) ? "success and failure disagree"
            : result.DurationMs < 0 ? "durationMs out of range"
            : null;
}
