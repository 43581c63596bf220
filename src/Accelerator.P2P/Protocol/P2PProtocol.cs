using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Accelerator.P2P.Protocol;

/// <summary>
/// The P2P wire protocol (docs/formats/p2p.md): paths, headers and bounds of the scheduler API and the peer piece API,
/// and the bounded, validating JSON codec of their messages.
/// </summary>
public static partial class P2PProtocol
{
    /// <summary>The header that carries a task token on piece requests.</summary>
    public const string TokenHeader = "X-Accel-P2P-Token";

    /// <summary>
    /// The header that carries a peer's secret (issued by the scheduler at first contact) on every scheduler request
    /// after the first: a request naming a peer the scheduler knows is refused (401) without it.
    /// </summary>
    public const string PeerSecretHeader = "X-Accel-P2P-Peer-Secret";

    /// <summary>The longest peer secret a scheduler issues or accepts.</summary>
    public const int MaxPeerSecretLength = 128;

    /// <summary>The header a peer adds to a piece answer: the piece's sha256 digest as the peer stored it.</summary>
    public const string PieceDigestHeader = "X-Accel-P2P-Piece-Digest";

    /// <summary>The largest request body the scheduler reads (64 KiB); larger ones get 413.</summary>
    public const int MaxRequestBytes = 64 * 1024;

    /// <summary>The largest scheduler answer a peer reads (1 MiB).</summary>
    public const int MaxResponseBytes = 1024 * 1024;

    /// <summary>The longest peer id.</summary>
    public const int MaxPeerIdLength = 128;

    /// <summary>The longest URL, registry, repository or label.</summary>
    public const int MaxNameLength = 2048;

    /// <summary>The most pieces a schedule request may ask for or name in <see cref="ScheduleRequest.Wanted"/>.</summary>
    public const int MaxPiecesPerRequest = 4096;

    /// <summary>The longest a schedule request may ask the scheduler to hold an empty answer (long poll), in milliseconds.</summary>
    public const int MaxScheduleWaitMs = 30_000;

    /// <summary>The most outcomes in one report.</summary>
    public const int MaxResultsPerReport = 1024;

    /// <summary>The most pieces a task may have (at the smallest piece size this bounds blobs to 1 TiB).</summary>
    public const int MaxPieceCount = 1 << 20;

    /// <summary>The smallest piece size (64 KiB).</summary>
    public const int MinPieceSize = 64 * 1024;

    /// <summary>The largest piece size (64 MiB).</summary>
    public const int MaxPieceSize = 64 * 1024 * 1024;

    /// <summary>The scheduler API root.</summary>
    public const string SchedulerApiRoot = "/api/v1/";

    /// <summary>The peer piece API root.</summary>
    public const string PeerApiRoot = "/p2p/v1/tasks/";

    /// <summary>Heartbeat path (POST <see cref="HeartbeatRequest"/>).</summary>
    public const string HeartbeatPath = "/api/v1/peers/heartbeat";

    /// <summary>Leave path (POST <see cref="LeaveRequest"/>).</summary>
    public const string LeavePath = "/api/v1/peers/leave";

    /// <summary>Task registration path (POST <see cref="RegisterTaskRequest"/>).</summary>
    public const string RegisterPath = "/api/v1/tasks/register";

    /// <summary>Preheat path (POST <see cref="PreheatRequest"/>).</summary>
    public const string PreheatPath = "/api/v1/preheat";

    /// <summary>The path of a task action: <c>/api/v1/tasks/{digest}/{schedule|reports|complete}</c>.</summary>
    public static string TaskPath(Digest task, string action) => $"/api/v1/tasks/{task}/{action}";

    /// <summary>The path of a piece on a peer: <c>/p2p/v1/tasks/{digest}/pieces/{index}</c>.</summary>
    public static string PiecePath(Digest task, int index) => $"{PeerApiRoot}{task}/pieces/{index.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>Parses a task action path; <see langword="false"/> for anything else.</summary>
    public static bool TryParseTaskPath(ReadOnlySpan<char> path, out Digest task, [NotNullWhen(true)] out string? action)
    {
        task = default;
        action = null;
        const string Root = "/api/v1/tasks/";
        if (path.Length > MaxNameLength || !path.StartsWith(Root, StringComparison.Ordinal))
        {
            return false;
        }

        var rest = path[Root.Length..];
        int slash = rest.IndexOf('/');
        if (slash <= 0 || !Digest.TryParse(rest[..slash], null, out task))
        {
            return false;
        }

        action = rest[(slash + 1)..] switch
        {
            "schedule" => "schedule",
            "reports" => "reports",
            "complete" => "complete",
            _ => null,
        };
        return action is not null;
    }

    /// <summary>Parses a piece path; <see langword="false"/> for anything else (including indexes out of range).</summary>
    public static bool TryParsePiecePath(ReadOnlySpan<char> path, out Digest task, out int index)
    {
        task = default;
        index = -1;
        if (path.Length > MaxNameLength || !path.StartsWith(PeerApiRoot, StringComparison.Ordinal))
        {
            return false;
        }

        var rest = path[PeerApiRoot.Length..];
        int slash = rest.IndexOf('/');
        if (slash <= 0 || !Digest.TryParse(rest[..slash], null, out task))
        {
            return false;
        }

        rest = rest[(slash + 1)..];
        const string Pieces = "pieces/";
        if (!rest.StartsWith(Pieces, StringComparison.Ordinal))
        {
            return false;
        }

        rest = rest[Pieces.Length..];
        // Plain decimal only: no sign, no leading zeros, no whitespace.
        if (rest.Length is 0 or > 7 || (rest.Length > 1 && rest[0] == '0'))
        {
            return false;
        }

        int value = 0;
        foreach (char c in rest)
        {
            if (c is < '0' or > '9')
            {
                return false;
            }

            value = (value * 10) + (c - '0');
        }

        if (value >= MaxPieceCount)
        {
            return false;
        }

        index = value;
        return true;
    }

    /// <summary>Serializes a message to UTF-8 JSON.</summary>
    public static byte[] Serialize<T>(T message) where T : class
        => JsonSerializer.SerializeToUtf8Bytes(message, GetTypeInfo<T>());

    /// <summary>
    /// Parses and validates a message. Never throws for bad input: returns <see langword="false"/> with one line in
    /// <paramref name="error"/> for input over <paramref name="maxBytes"/>, malformed JSON, or values out of bounds.
    /// </summary>
    public static bool TryParse<T>(ReadOnlySpan<byte> json, [NotNullWhen(true)] out T? message, [NotNullWhen(false)] out string? error, int maxBytes = MaxRequestBytes)
        where T : class
    {
        message = null;
        if (json.Length > maxBytes)
        {
            error = $"message is {json.Length} bytes, over the {maxBytes}-byte limit";
            return false;
        }

        T? parsed;
        try
        {
            parsed = JsonSerializer.Deserialize(json, GetTypeInfo<T>());
        }
        catch (JsonException ex)
        {
            error = $"malformed JSON: {FirstLine(ex.Message)}";
            return false;
        }
        catch (NotSupportedException ex)
        {
            error = $"unsupported JSON: {FirstLine(ex.Message)}";
            return false;
        }
        catch (ArgumentException ex)
        {
            error = $"malformed JSON: {FirstLine(ex.Message)}";
            return false;
        }

        if (parsed is null)
        {
            error = "message is null";
            return false;
        }

        error = Validate(parsed);
        if (error is not null)
        {
            return false;
        }

        message = parsed;
        return true;
    }

    /// <summary>Parses and validates a message, throwing <see cref="P2PProtocolException"/> for bad input.</summary>
    public static T Parse<T>(ReadOnlySpan<byte> json, int maxBytes = MaxRequestBytes) where T : class
        => TryParse<T>(json, out var message, out string? error, maxBytes) ? message : throw new P2PProtocolException($"Bad {typeof(T).Name}: {error}");

    private static string FirstLine(string text)
    {
        int newline = text.IndexOfAny(['\r', '\n']);
        return newline < 0 ? text : text[..newline];
    }

    private static JsonTypeInfo<T> GetTypeInfo<T>() where T : class
        => (JsonTypeInfo<T>?)P2PJsonContext.Default.GetTypeInfo(typeof(T)) ?? throw new NotSupportedException($"{typeof(T).Name} is not a P2P message.");
}

/// <summary>A P2P message or answer broke the protocol.</summary>
public sealed class P2PProtocolException : Exception
{
    /// <summary>Creates the exception.</summary>
    public P2PProtocolException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception with its cause.</summary>
    public P2PProtocolException(string message, Exception innerException) : base(message, innerException)
    {
    }

    /// <summary>Creates the exception.</summary>
    public P2PProtocolException()
    {
    }
}
