using System.Text.Json;
using System.Text.Json.Serialization;

namespace Accelerator.Oci.Model;

/// <summary>JSON settings for OCI documents: camelCase, nulls omitted, strict digests.</summary>
public static class OciJson
{
    /// <summary>The serializer options used for every OCI document.</summary>
    public static JsonSerializerOptions Options { get; } = CreateOptions();

    private static JsonSerializerOptions CreateOptions()
    {
        var options = new JsonSerializerOptions
        {
            PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
            MaxDepth = 64,
        };
        options.Converters.Add(new DigestJsonConverter());
        options.Converters.Add(new DescriptorJsonConverter());
        options.Converters.Add(new PlatformJsonConverter());
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }

    /// <summary>Serializes a document to UTF-8 JSON bytes.</summary>
    public static byte[] Serialize<T>(T value) => JsonSerializer.SerializeToUtf8Bytes(value, Options);

    /// <summary>Deserializes a document, turning JSON errors into <see cref="FormatException"/>.</summary>
    public static T Deserialize<T>(ReadOnlySpan<byte> json, string what)
    {
        try
        {
            return JsonSerializer.Deserialize<T>(json, Options) ?? throw new FormatException($"Invalid {what}: null document.");
        }
        catch (Exception ex) when (IsInvalidJson(ex))
        {
            throw new FormatException($"Invalid {what}: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// Whether <paramref name="exception"/> means the JSON input was malformed: a <see cref="JsonException"/>, or the
    /// <see cref="InvalidOperationException"/> System.Text.Json throws when a string holds invalid UTF-8.
    /// </summary>
    public static bool IsInvalidJson(Exception exception)
        => exception is JsonException or InvalidOperationException { InnerException: System.Text.DecoderFallbackException };
}

/// <summary>Reads and writes <see cref="Digest"/> as its string form, strictly.</summary>
public sealed class DigestJsonConverter : JsonConverter<Digest>
{
    /// <inheritdoc />
    public override Digest Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        string? s = reader.GetString();
        return Digest.TryParse(s, out var digest) ? digest : throw new JsonException($"invalid digest '{s}'");
    }

    /// <inheritdoc />
    public override void Write(Utf8JsonWriter writer, Digest value, JsonSerializerOptions options) => writer.WriteStringValue(value.Value);
}

/// <summary>Reads and writes <see cref="Platform"/> with the OCI field names (<c>os</c>, <c>os.version</c>…).</summary>
public sealed class PlatformJsonConverter : JsonConverter<Platform>
{
    private sealed class Dto
    {
        [JsonPropertyName("architecture")] public string? Architecture { get; set; }
        [JsonPropertyName("os")] public string? OS { get; set; }
        [JsonPropertyName("os.version")] public string? OSVersion { get; set; }
        [JsonPropertyName("os.features")] public List<string>? OSFeatures { get; set; }
        [JsonPropertyName("variant")] public string? Variant { get; set; }
    }

    /// <inheritdoc />
    public override Platform Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var dto = JsonSerializer.Deserialize<Dto>(ref reader) ?? throw new JsonException("platform is null");
        if (string.IsNullOrEmpty(dto.OS) || string.IsNullOrEmpty(dto.Architecture))
        {
            throw new JsonException("platform needs os and architecture");
        }

        return new Platform(dto.OS, dto.Architecture, dto.Variant) { OSVersion = dto.OSVersion, OSFeatures = dto.OSFeatures };
    }

    /// <inheritdoc />
    public override void Write(Utf8JsonWriter writer, Platform value, JsonSerializerOptions options)
        => JsonSerializer.Serialize(writer, new Dto
        {
            Architecture = value.Architecture,
            OS = value.OS,
            OSVersion = value.OSVersion,
            OSFeatures = value.OSFeatures?.ToList(),
            Variant = value.Variant,
        }, new JsonSerializerOptions { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull });
}

/// <summary>Reads and writes <see cref="Descriptor"/> with the OCI field names, validating size and digest.</summary>
public sealed class DescriptorJsonConverter : JsonConverter<Descriptor>
{
    /// <inheritdoc />
    public override Descriptor Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw new JsonException("descriptor must be an object");
        }

        string? mediaType = null, artifactType = null;
        Digest? digest = null;
        long? size = null;
        Dictionary<string, string>? annotations = null;
        Platform? platform = null;
        List<string>? urls = null;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            string name = reader.GetString()!;
            reader.Read();
            switch (name)
            {
                case "mediaType": mediaType = reader.GetString(); break;
                case "artifactType": artifactType = reader.GetString(); break;
                case "digest": digest = JsonSerializer.Deserialize<Digest>(ref reader, options); break;
                case "size": size = reader.GetInt64(); break;
                case "annotations": annotations = JsonSerializer.Deserialize<Dictionary<string, string>>(ref reader, options); break;
                case "platform": platform = JsonSerializer.Deserialize<Platform>(ref reader, options); break;
                case "urls": urls = JsonSerializer.Deserialize<List<string>>(ref reader, options); break;
                default: reader.Skip(); break;
            }
        }

        if (digest is null || size is null)
        {
            throw new JsonException("descriptor needs digest and size");
        }

        if (size < 0)
        {
            throw new JsonException($"descriptor size {size} is negative");
        }

        return new Descriptor(mediaType ?? string.Empty, digest.Value, size.Value)
        {
            ArtifactType = artifactType,
            Annotations = annotations,
            Platform = platform,
            Urls = urls,
        };
    }

    /// <inheritdoc />
    public override void Write(Utf8JsonWriter writer, Descriptor value, JsonSerializerOptions options)
    {
        writer.WriteStartObject();
        writer.WriteString("mediaType", value.MediaType);
        if (value.ArtifactType is not null)
        {
            writer.WriteString("artifactType", value.ArtifactType);
        }

        writer.WriteString("digest", value.Digest.Value);
        writer.WriteNumber("size", value.Size);
        if (value.Urls is { Count: > 0 })
        {
            writer.WritePropertyName("urls");
            JsonSerializer.Serialize(writer, value.Urls, options);
        }

        if (value.Annotations is { Count: > 0 })
        {
            writer.WritePropertyName("annotations");
            JsonSerializer.Serialize(writer, new SortedDictionary<string, string>(value.Annotations.ToDictionary(), StringComparer.Ordinal), options);
        }

        if (value.Platform is not null)
        {
            writer.WritePropertyName("platform");
            JsonSerializer.Serialize(writer, value.Platform, options);
        }

        writer.WriteEndObject();
    }
}
