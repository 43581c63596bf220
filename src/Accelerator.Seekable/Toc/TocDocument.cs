using System.Text.Json.Serialization;

namespace Accelerator.Seekable.Toc;

/// <summary>
/// The JSON table of contents shared by eStargz (<c>stargz.index.json</c>, estargz/types.go <c>JTOC</c>) and
/// zstd:chunked (its "manifest", containers/storage pkg/chunked/internal <c>TOC</c>, declared CRFS-compatible).
/// </summary>
internal sealed class TocDocument
{
    [JsonPropertyName("version")]
    public int Version { get; set; }

    [JsonPropertyName("entries")]
    public List<TocEntry>? Entries { get; set; }
}

/// <summary>One TOC entry: a tar entry (<c>dir</c>, <c>reg</c>, <c>symlink</c>, <c>hardlink</c>, <c>char</c>,
/// <c>block</c>, <c>fifo</c>) or a further chunk of the regular file before it (<c>chunk</c>).</summary>
internal sealed class TocEntry
{
    [JsonPropertyName("name")]
    public string? Name { get; set; }

    [JsonPropertyName("type")]
    public string? Type { get; set; }

    [JsonPropertyName("size")]
    public long Size { get; set; }

    // eStargz: UTC RFC 3339 seconds; zstd:chunked: Go's time.Time, RFC 3339 with up to 9 fraction digits.
    [JsonPropertyName("modtime")]
    public string? ModificationTime { get; set; }

    [JsonPropertyName("linkName")]
    public string? LinkName { get; set; }

    [JsonPropertyName("mode")]
    public long Mode { get; set; }

    [JsonPropertyName("uid")]
    public long Uid { get; set; }

    [JsonPropertyName("gid")]
    public long Gid { get; set; }

    // eStargz writes a name only on the first entry with a given uid (gid); later ones inherit it.
    [JsonPropertyName("userName")]
    public string? UserName { get; set; }

    [JsonPropertyName("groupName")]
    public string? GroupName { get; set; }

    [JsonPropertyName("offset")]
    public long Offset { get; set; }

    // zstd:chunked only: where the file's last compressed chunk ends.
    [JsonPropertyName("endOffset")]
    public long EndOffset { get; set; }

    [JsonPropertyName("devMajor")]
    public long DeviceMajor { get; set; }

    [JsonPropertyName("devMinor")]
    public long DeviceMinor { get; set; }

    // Both formats: attribute name → base64 of the raw value (eStargz marshals []byte, zstd:chunked encodes itself).
    [JsonPropertyName("xattrs")]
    public Dictionary<string, string>? ExtendedAttributes { get; set; }

    [JsonPropertyName("digest")]
    public string? Digest { get; set; }

    [JsonPropertyName("chunkOffset")]
    public long ChunkOffset { get; set; }

    // 0 (absent) means "to the end of the file".
    [JsonPropertyName("chunkSize")]
    public long ChunkSize { get; set; }

    [JsonPropertyName("chunkDigest")]
    public string? ChunkDigest { get; set; }

    [JsonPropertyName("chunkType")]
    public string? ChunkType { get; set; }
}

[JsonSourceGenerationOptions(MaxDepth = 8, ReadCommentHandling = System.Text.Json.JsonCommentHandling.Disallow)]
[JsonSerializable(typeof(TocDocument))]
internal sealed partial class TocJsonContext : JsonSerializerContext;
