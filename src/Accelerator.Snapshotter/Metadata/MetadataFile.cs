using System.Text.Json;
using System.Text.Json.Serialization;
using Accelerator.Snapshotter.Layers;

namespace Accelerator.Snapshotter.Metadata;

/// <summary>How one <see cref="SnapshotRecord"/> is kept on disk: <c>ROOT/metadata/ID.json</c>, written atomically.</summary>
internal sealed class MetadataFile
{
    public long Id { get; set; }

    public string Name { get; set; } = "";

    public string? Parent { get; set; }

    public SnapshotKind Kind { get; set; }

    public Dictionary<string, string> Labels { get; set; } = [];

    public DateTimeOffset Created { get; set; }

    public DateTimeOffset Updated { get; set; }

    public string? SourceProvider { get; set; }

    public Dictionary<string, string>? SourceProperties { get; set; }

    public long? Size { get; set; }

    public long? Inodes { get; set; }

    public static byte[] Serialize(SnapshotRecord record) => JsonSerializer.SerializeToUtf8Bytes(
        new MetadataFile
        {
            Id = record.Id,
            Name = record.Name,
            Parent = record.Parent,
            Kind = record.Kind,
            Labels = new Dictionary<string, string>(record.Labels, StringComparer.Ordinal),
            Created = record.Created,
            Updated = record.Updated,
            SourceProvider = record.Source?.Provider,
            SourceProperties = record.Source is { } source ? new Dictionary<string, string>(source.Properties, StringComparer.Ordinal) : null,
            Size = record.Usage?.Size,
            Inodes = record.Usage?.Inodes,
        },
        MetadataJson.Default.MetadataFile);

    /// <summary>The record in <paramref name="content"/>, or null when it is not a well-formed record.</summary>
    public static SnapshotRecord? TryDeserialize(ReadOnlySpan<byte> content)
    {
        MetadataFile? file;
        try
        {
            file = JsonSerializer.Deserialize(content, MetadataJson.Default.MetadataFile);
        }
        catch (JsonException)
        {
            return null;
        }

        if (file is null || file.Id <= 0 || file.Name.Length == 0 || !Enum.IsDefined(file.Kind) || (file.SourceProvider is not null && file.Kind != SnapshotKind.Committed))
        {
            return null;
        }

        return new SnapshotRecord(
            file.Id,
            file.Name,
            string.IsNullOrEmpty(file.Parent) ? null : file.Parent,
            file.Kind,
            file.Labels,
            file.Created,
            file.Updated,
            file.SourceProvider is { } provider ? new LayerSource(provider, file.SourceProperties ?? []) : null,
            file.Size is { } size && file.Inodes is { } inodes ? new SnapshotUsage(size, inodes) : null);
    }
}

[JsonSourceGenerationOptions(UseStringEnumConverter = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(MetadataFile))]
internal sealed partial class MetadataJson : JsonSerializerContext;
