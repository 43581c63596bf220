using System.Globalization;
using System.Text.Json;
using Accelerator.Oci.Model;
using Accelerator.Seekable.Gzip;

namespace Accelerator.Seekable.Index;

/// <summary>
/// The seekable index of one image manifest, stored as an OCI artifact beside the image: an image manifest with
/// <c>artifactType</c> <see cref="ArtifactType"/>, the empty config, <c>subject</c> = the indexed manifest, one
/// <see cref="GzipLayerIndex.MediaType"/> blob per indexed layer (annotation <see cref="LayerAnnotation"/> = the layer's
/// digest) and an optional prefetch list (<see cref="PrefetchListMediaType"/>). Found through the referrers API or the
/// referrers tag scheme (<see cref="SeekableIndexFinder"/>), written by <see cref="SeekableIndexPublisher"/>.
/// </summary>
/// <remarks>
/// <see cref="Parse"/> validates everything it keeps (types, digests, sizes, bounds) and <see cref="ReadLayerIndexAsync"/>
/// reads a layer's index verified by its blob digest, bounded, and checked by <see cref="GzipLayerIndex.Read"/> to name
/// the layer. The span digests inside are the indexer's claims: docs/security.md says what that trusts.
/// </remarks>
public sealed class SeekableIndexArtifact
{
    /// <summary>The artifact type of a seekable index.</summary>
    public const string ArtifactType = "application/vnd.accelerator.seekable-index.v1";

    /// <summary>The media type of the prefetch list blob: a JSON array of absolute paths.</summary>
    public const string PrefetchListMediaType = "application/vnd.accelerator.seekable.prefetch.v1+json";

    /// <summary>The annotation of a layer index blob that names the layer (its digest).</summary>
    public const string LayerAnnotation = "dev.accelerator.seekable.layer";

    /// <summary>The manifest annotation that states the span size the index was built with (bytes).</summary>
    public const string SpanSizeAnnotation = "dev.accelerator.seekable.span-size";

    /// <summary>The manifest annotation that states when the index was built (RFC 3339); the newest index wins.</summary>
    public const string CreatedAnnotation = "org.opencontainers.image.created";

    /// <summary>The largest layer index blob read: 64 MiB.</summary>
    public const int MaxLayerIndexBytes = 64 << 20;

    /// <summary>The largest prefetch list blob: 1 MiB.</summary>
    public const int MaxPrefetchListBytes = 1 << 20;

    /// <summary>The most paths a prefetch list holds: 100,000.</summary>
    public const int MaxPrefetchPaths = 100_000;

    /// <summary>The most layer indexes one artifact holds: 1,000 (more than any image has layers).</summary>
    public const int MaxLayers = 1000;

    /// <summary>The span sizes an artifact may state: 64 KiB to 32 MiB.</summary>
    public const int MinSpanSize = 64 << 10, MaxSpanSize = 32 << 20;

    private static readonly byte[] EmptyJson = "{}"u8.ToArray();

    private readonly IBlobSource _blobs;
    private readonly string _repository;
    private readonly Dictionary<Digest, Descriptor> _layers;

    private SeekableIndexArtifact(ManifestDocument manifest, Descriptor subject, Dictionary<Digest, Descriptor> layers, Descriptor? prefetch,
        int? spanSize, DateTimeOffset? created, IBlobSource blobs, string repository)
    {
        Manifest = manifest;
        Subject = subject;
        _layers = layers;
        PrefetchList = prefetch;
        SpanSize = spanSize;
        Created = created;
        _blobs = blobs;
        _repository = repository;
    }

    /// <summary>The OCI empty descriptor used as the artifact's config (<c>{}</c>, 2 bytes).</summary>
    public static Descriptor EmptyConfig { get; } = Descriptor.FromContent(MediaTypes.OciEmpty, EmptyJson);

    /// <summary>The bytes of <see cref="EmptyConfig"/>.</summary>
    public static ReadOnlyMemory<byte> EmptyConfigContent => EmptyJson;

    /// <summary>The artifact manifest as stored.</summary>
    public ManifestDocument Manifest { get; }

    /// <summary>The artifact manifest's digest.</summary>
    public Digest Digest => Manifest.Digest;

    /// <summary>The image manifest the index belongs to.</summary>
    public Descriptor Subject { get; }

    /// <summary>The layers indexed (layer digest → index blob descriptor).</summary>
    public IReadOnlyDictionary<Digest, Descriptor> LayerIndexes => _layers;

    /// <summary>The prefetch list blob, when the artifact has one.</summary>
    public Descriptor? PrefetchList { get; }

    /// <summary>The span size stated by <see cref="SpanSizeAnnotation"/>, when stated.</summary>
    public int? SpanSize { get; }

    /// <summary>When the index was built (<see cref="CreatedAnnotation"/>), when stated.</summary>
    public DateTimeOffset? Created { get; }

    /// <summary>Whether the artifact holds an index of <paramref name="layer"/>.</summary>
    public bool Indexes(Digest layer) => _layers.ContainsKey(layer);

    /// <summary>
    /// Builds the artifact manifest for <paramref name="subject"/>: the empty config, one blob per layer
    /// (<paramref name="layers"/>: the layer's digest and its index blob), the prefetch list blob when given, and the
    /// span size and creation time as annotations.
    /// </summary>
    public static ManifestDocument Build(Descriptor subject, IReadOnlyList<(Digest Layer, Descriptor Index)> layers, Descriptor? prefetchList, int spanSize, DateTimeOffset created)
    {
        ArgumentNullException.ThrowIfNull(subject);
        ArgumentNullException.ThrowIfNull(layers);
        if (!MediaTypes.IsManifest(subject.MediaType))
        {
            throw new ArgumentException($"A seekable index belongs to an image manifest, not '{subject.MediaType}'.", nameof(subject));
        }

        var blobs = layers.Select(l => new Descriptor(GzipLayerIndex.MediaType, l.Index.Digest, l.Index.Size)
        {
            Annotations = new Dictionary<string, string> { [LayerAnnotation] = l.Layer.ToString() },
        }).ToList();
        if (prefetchList is not null)
        {
            blobs.Add(new Descriptor(PrefetchListMediaType, prefetchList.Digest, prefetchList.Size));
        }

        return ManifestDocument.From(new ImageManifest
        {
            MediaType = MediaTypes.OciManifest,
            ArtifactType = ArtifactType,
            Config = EmptyConfig,
            Layers = blobs,
            Subject = new Descriptor(subject.MediaType, subject.Digest, subject.Size),
            Annotations = new Dictionary<string, string>
            {
                [SpanSizeAnnotation] = spanSize.ToString(CultureInfo.InvariantCulture),
                [CreatedAnnotation] = created.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture),
            },
        });
    }

    /// <summary>
    /// Reads an artifact manifest; its blobs are read later from <paramref name="blobs"/> in
    /// <paramref name="repository"/>. Blobs of media types this version does not know are ignored.
    /// </summary>
    /// <exception cref="InvalidDataException">It is not a seekable index: another artifact type, no subject, a layer blob without
    /// a valid layer annotation or named twice, a blob over its bound, a malformed annotation.</exception>
    public static SeekableIndexArtifact Parse(ManifestDocument manifest, IBlobSource blobs, string repository)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(blobs);
        ArgumentNullException.ThrowIfNull(repository);
        var document = manifest.Manifest ?? throw Invalid(manifest, "it is an index, not an image manifest");
        if (document.ArtifactType != ArtifactType)
        {
            throw Invalid(manifest, $"its artifact type is '{Shorten(document.ArtifactType ?? document.Config.MediaType)}'");
        }

        if (document.Config.MediaType != MediaTypes.OciEmpty || document.Config.Size > 64)
        {
            throw Invalid(manifest, "its config is not the empty descriptor");
        }

        var subject = document.Subject ?? throw Invalid(manifest, "it has no subject");
        if (!MediaTypes.IsManifest(subject.MediaType))
        {
            throw Invalid(manifest, $"its subject is a '{Shorten(subject.MediaType)}', not an image manifest");
        }

        if (document.Layers.Count > MaxLayers + 1)
        {
            throw Invalid(manifest, $"it lists {document.Layers.Count} blobs, over the limit of {MaxLayers + 1}");
        }

        var layers = new Dictionary<Digest, Descriptor>();
        Descriptor? prefetch = null;
        foreach (var blob in document.Layers)
        {
            if (blob.MediaType == GzipLayerIndex.MediaType)
            {
                if (blob.Annotations is null || !blob.Annotations.TryGetValue(LayerAnnotation, out string? named) || !Digest.TryParse(named, out var layer))
                {
                    throw Invalid(manifest, $"the layer index blob {blob.Digest} does not name its layer ({LayerAnnotation})");
                }

                if (blob.Size > MaxLayerIndexBytes)
                {
                    throw Invalid(manifest, $"the index of layer {layer} is {blob.Size} bytes, over the {MaxLayerIndexBytes}-byte limit");
                }

                if (!layers.TryAdd(layer, blob))
                {
                    throw Invalid(manifest, $"layer {layer} is indexed twice");
                }
            }
            else if (blob.MediaType == PrefetchListMediaType)
            {
                if (prefetch is not null)
                {
                    throw Invalid(manifest, "it has two prefetch lists");
                }

                if (blob.Size > MaxPrefetchListBytes)
                {
                    throw Invalid(manifest, $"its prefetch list is {blob.Size} bytes, over the {MaxPrefetchListBytes}-byte limit");
                }

                prefetch = blob;
            }
        }

        int? spanSize = null;
        if (document.Annotations?.TryGetValue(SpanSizeAnnotation, out string? span) == true)
        {
            if (!int.TryParse(span, NumberStyles.None, CultureInfo.InvariantCulture, out int value) || value is < MinSpanSize or > MaxSpanSize)
            {
                throw Invalid(manifest, $"its span size '{Shorten(span)}' is not a number of bytes from {MinSpanSize} to {MaxSpanSize}");
            }

            spanSize = value;
        }

        DateTimeOffset? created = null;
        if (document.Annotations?.TryGetValue(CreatedAnnotation, out string? when) == true)
        {
            if (!DateTimeOffset.TryParse(when, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var parsed))
            {
                throw Invalid(manifest, $"its creation time '{Shorten(when)}' is not an RFC 3339 time");
            }

            created = parsed;
        }

        return new SeekableIndexArtifact(manifest, subject, layers, prefetch, spanSize, created, blobs, repository);
    }

    /// <summary>
    /// Reads the index of <paramref name="layer"/>, or null when the artifact does not index it. The blob is read
    /// whole, verified against its digest, bounded by <see cref="MaxLayerIndexBytes"/>; <see cref="GzipLayerIndex.Read"/>
    /// checks that it names the layer (digest and size).
    /// </summary>
    /// <exception cref="InvalidDataException">The blob is not a valid index of the layer.</exception>
    /// <exception cref="DigestMismatchException">The blob does not match its digest.</exception>
    public async Task<GzipLayerIndex?> ReadLayerIndexAsync(Descriptor layer, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(layer);
        if (!_layers.TryGetValue(layer.Digest, out var blob))
        {
            return null;
        }

        byte[] bytes = await _blobs.ReadAllBytesAsync(BlobAddress.For(_repository, blob), MaxLayerIndexBytes, cancellationToken).ConfigureAwait(false);
        return GzipLayerIndex.Read(bytes, layer);
    }

    /// <summary>The prefetch list (absolute paths in order), or an empty list when the artifact has none.</summary>
    /// <exception cref="InvalidDataException">The blob is not a valid prefetch list.</exception>
    public async Task<IReadOnlyList<string>> ReadPrefetchListAsync(CancellationToken cancellationToken = default)
    {
        if (PrefetchList is null)
        {
            return [];
        }

        byte[] bytes = await _blobs.ReadAllBytesAsync(BlobAddress.For(_repository, PrefetchList), MaxPrefetchListBytes, cancellationToken).ConfigureAwait(false);
        return ParsePrefetchList(bytes);
    }

    /// <summary>Serializes a prefetch list: a JSON array of absolute paths (each given a leading <c>/</c>).</summary>
    /// <exception cref="ArgumentException">Too many paths, a path that is empty, holds NUL or is over 4096 bytes, or a list over 1 MiB.</exception>
    public static byte[] WritePrefetchList(IReadOnlyList<string> paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        if (paths.Count > MaxPrefetchPaths)
        {
            throw new ArgumentException($"The prefetch list has {paths.Count} paths, over the limit of {MaxPrefetchPaths}.", nameof(paths));
        }

        var normalized = paths.Select(p => "/" + (p ?? string.Empty).TrimStart('/')).ToList();
        foreach (string path in normalized)
        {
            if (!IsValidPath(path))
            {
                throw new ArgumentException($"The prefetch list holds an invalid path '{Shorten(path)}'.", nameof(paths));
            }
        }

        byte[] bytes = JsonSerializer.SerializeToUtf8Bytes(normalized);
        return bytes.Length <= MaxPrefetchListBytes
            ? bytes
            : throw new ArgumentException($"The prefetch list is {bytes.Length} bytes, over the {MaxPrefetchListBytes}-byte limit.", nameof(paths));
    }

    /// <summary>Parses a prefetch list: a JSON array of absolute paths, bounded.</summary>
    /// <exception cref="InvalidDataException">Not a JSON array of valid absolute paths, or over a bound.</exception>
    public static IReadOnlyList<string> ParsePrefetchList(ReadOnlySpan<byte> json)
    {
        if (json.Length > MaxPrefetchListBytes)
        {
            throw new InvalidDataException($"The prefetch list is {json.Length} bytes, over the {MaxPrefetchListBytes}-byte limit.");
        }

        var paths = new List<string>();
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 2 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray)
            {
                throw new InvalidDataException("The prefetch list is not a JSON array.");
            }

            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                if (reader.TokenType != JsonTokenType.String)
                {
                    throw new InvalidDataException("The prefetch list holds something other than a path.");
                }

                string path = reader.GetString()!;
                if (!IsValidPath(path) || paths.Count >= MaxPrefetchPaths)
                {
                    throw new InvalidDataException(paths.Count >= MaxPrefetchPaths
                        ? $"The prefetch list holds more than {MaxPrefetchPaths} paths."
                        : $"The prefetch list holds an invalid path '{Shorten(path)}'.");
                }

                paths.Add(path);
            }

            if (reader.TokenType != JsonTokenType.EndArray || reader.Read())
            {
                throw new InvalidDataException("The prefetch list does not end where its array ends.");
            }
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            throw new InvalidDataException($"The prefetch list is not valid JSON: {ex.Message}", ex);
        }

        return paths;
    }

    private static bool IsValidPath(string path)
        => path.Length is > 1 && path[0] == '/' && !path.Contains('\0') && System.Text.Encoding.UTF8.GetByteCount(path) <= 4096;

    private static InvalidDataException Invalid(ManifestDocument manifest, string why)
        => new($"Artifact {manifest.Digest} is not a seekable index: {why}.");

    private static string Shorten(string? value) => value is null ? "" : value.Length > 80 ? value[..80] + "…" : value;
}
