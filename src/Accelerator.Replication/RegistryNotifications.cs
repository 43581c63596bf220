using System.Text.Json;
using System.Text.RegularExpressions;
using Accelerator.Oci.Model;
using Accelerator.Oci.Registry;

namespace Accelerator.Replication;

/// <summary>What an event of a registry notification is about (distribution's <c>Event.Target</c>).</summary>
/// <param name="MediaType">The media type of the manifest or blob.</param>
/// <param name="Digest">Its digest.</param>
/// <param name="Size">Its size in bytes (<c>size</c>, else the older <c>length</c>), or -1.</param>
/// <param name="Repository">The repository.</param>
/// <param name="Tag">The tag, for manifest pushes by tag.</param>
/// <param name="Url">A direct link to the content.</param>
/// <param name="FromRepository">For mounts: the repository the blob was mounted from.</param>
public sealed record RegistryEventTarget(string? MediaType, Digest? Digest, long Size, string? Repository, string? Tag, string? Url, string? FromRepository);

/// <summary>One event of a docker-registry notification (distribution's <c>notifications.Event</c>).</summary>
/// <param name="Id">The event's unique id.</param>
/// <param name="Action">push, pull, mount or delete.</param>
/// <param name="Target">What the event is about.</param>
/// <param name="RequestHost">The registry's host as the client addressed it (<c>request.host</c>), e.g. <c>registry:5000</c>.</param>
/// <param name="RequestMethod">The HTTP method of the request that caused the event.</param>
/// <param name="SourceAddress">The registry node that generated the event (<c>source.addr</c>).</param>
public sealed record RegistryEvent(string? Id, string Action, RegistryEventTarget Target, string? RequestHost, string? RequestMethod, string? SourceAddress)
{
    /// <summary>Whether this is the push of a manifest or index under a tag: what event-driven replication acts on.</summary>
    public bool IsTaggedManifestPush
        => Action == RegistryNotifications.ActionPush
           && (MediaTypes.IsManifest(Target.MediaType) || MediaTypes.IsIndex(Target.MediaType))
           && Target.Repository is not null
           && Target.Tag is not null;
}

/// <summary>
/// Reads the envelopes docker-registry POSTs to its <c>notifications.endpoints</c>: <c>{"events": [ … ]}</c> with
/// media type <see cref="EnvelopeMediaTypeV1"/> (distribution 2.x) or <see cref="EnvelopeMediaTypeV2"/> (3.x). The
/// parser is bounded and strict about the fields it uses (types, digests, repository names, tags, hosts) and ignores
/// the others, so a malformed envelope fails as a whole with <see cref="FormatException"/> before anything is acted on.
/// </summary>
public static partial class RegistryNotifications
{
    /// <summary>The envelope media type of distribution 2.x.</summary>
    public const string EnvelopeMediaTypeV1 = "application/vnd.docker.distribution.events.v1+json";

    /// <summary>The envelope media type of distribution 3.x.</summary>
    public const string EnvelopeMediaTypeV2 = "application/vnd.docker.distribution.events.v2+json";

    /// <summary>The action of a push event.</summary>
    public const string ActionPush = "push";

    /// <summary>The most events one envelope may hold by default (docker-registry sends one per request).</summary>
    public const int DefaultMaxEvents = 1000;

    private const int MaxStringLength = 4096;

    /// <summary>Whether <paramref name="mediaType"/> (without parameters) is an envelope type, or plain <c>application/json</c>.</summary>
    public static bool IsEnvelopeMediaType(string? mediaType)
        => mediaType is not null
           && (mediaType.Equals(EnvelopeMediaTypeV1, StringComparison.OrdinalIgnoreCase)
               || mediaType.Equals(EnvelopeMediaTypeV2, StringComparison.OrdinalIgnoreCase)
               || mediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// Parses an envelope. An envelope without <c>events</c> has none. Throws <see cref="FormatException"/> for
    /// anything that is not an envelope, for more than <paramref name="maxEvents"/> events, and for a field used here
    /// with the wrong type or an invalid value.
    /// </summary>
    public static IReadOnlyList<RegistryEvent> Parse(ReadOnlySpan<byte> body, int maxEvents = DefaultMaxEvents)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxEvents, 1);
        try
        {
            var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 16 });
            using var json = JsonDocument.ParseValue(ref reader);
            var root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new FormatException("The notification is not a JSON object.");
            }

            if (!root.TryGetProperty("events", out var events) || events.ValueKind == JsonValueKind.Null)
            {
                return [];
            }

            if (events.ValueKind != JsonValueKind.Array)
            {
                throw new FormatException("The notification's 'events' is not an array.");
            }

            int count = events.GetArrayLength();
            if (count > maxEvents)
            {
                throw new FormatException($"The notification holds {count} events, more than {maxEvents}.");
            }

            var result = new List<RegistryEvent>(count);
            int index = 0;
            foreach (var item in events.EnumerateArray())
            {
                result.Add(ParseEvent(item, index++));
            }

            return result;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            throw new FormatException($"The notification is not valid JSON: {ex.Message}", ex);
        }
    }

    private static RegistryEvent ParseEvent(JsonElement item, int index)
    {
        if (item.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException($"Event {index} is not an object.");
        }

        string action = String(item, "action", index) is { Length: > 0 and <= 32 } a
            ? a
            : throw new FormatException($"Event {index} has no action.");
        var target = item.TryGetProperty("target", out var t) && t.ValueKind != JsonValueKind.Null
            ? ParseTarget(t, index)
            : new RegistryEventTarget(null, null, -1, null, null, null, null);

        string? host = null;
        string? method = null;
        if (Object(item, "request", index) is { } request)
        {
            host = String(request, "host", index);
            if (host is not null && !HostPattern().IsMatch(host))
            {
                throw new FormatException($"Event {index}: request.host is not a host[:port].");
            }

            method = String(request, "method", index);
        }

        string? sourceAddress = Object(item, "source", index) is { } source ? String(source, "addr", index) : null;
        return new RegistryEvent(String(item, "id", index), action, target, host, method, sourceAddress);
    }

    private static RegistryEventTarget ParseTarget(JsonElement target, int index)
    {
        if (target.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException($"Event {index}: target is not an object.");
        }

        Digest? digest = null;
        if (String(target, "digest", index) is { } text)
        {
            digest = Digest.TryParse(text, out var d) ? d : throw new FormatException($"Event {index}: target.digest is not a valid digest.");
        }

        long size = Number(target, "size", index) ?? Number(target, "length", index) ?? -1;
        string? repository = String(target, "repository", index);
        if (repository is not null)
        {
            CheckRepository(repository, "target.repository", index);
        }

        string? from = String(target, "fromRepository", index);
        if (from is not null)
        {
            CheckRepository(from, "target.fromRepository", index);
        }

        string? tag = String(target, "tag", index);
        if (tag is { Length: > 0 } && !TagPattern().IsMatch(tag))
        {
            throw new FormatException($"Event {index}: target.tag is not a valid tag.");
        }

        return new RegistryEventTarget(String(target, "mediaType", index), digest, size, repository, tag is { Length: > 0 } ? tag : null, String(target, "url", index), from);
    }

    private static void CheckRepository(string repository, string field, int index)
    {
        try
        {
            RegistryClient.CheckRepository(repository);
        }
        catch (ArgumentException)
        {
            throw new FormatException($"Event {index}: {field} is not a valid repository name.");
        }
    }

    private static JsonElement? Object(JsonElement parent, string name, int index)
    {
        if (!parent.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.Object ? value : throw new FormatException($"Event {index}: {name} is not an object.");
    }

    private static string? String(JsonElement parent, string name, int index)
    {
        if (!parent.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.String)
        {
            throw new FormatException($"Event {index}: {name} is not a string.");
        }

        string text = value.GetString()!;
        return text.Length <= MaxStringLength ? text : throw new FormatException($"Event {index}: {name} is longer than {MaxStringLength} characters.");
    }

    private static long? Number(JsonElement parent, string name, int index)
    {
        if (!parent.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out long n) && n >= 0
            ? n
            : throw new FormatException($"Event {index}: {name} is not a non-negative integer.");
    }

    // distribution/reference grammar: tag := [\w][\w.-]{0,127}
    [GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")]
    private static partial Regex TagPattern();

    // A DNS name or an IPv4 address, or a bracketed IPv6 address, with an optional port.
    [GeneratedRegex(@"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?$")]
    private static partial Regex HostPattern();
}
