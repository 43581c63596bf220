using System.ComponentModel.DataAnnotations;
using Accelerator.Lazy.Format;
using Microsoft.Extensions.Options;

namespace Accelerator.Lazy.Conversion;

/// <summary>Options of <see cref="LazyConverter"/>, checked by <see cref="LazyConvertOptionsValidator"/>.</summary>
public sealed record LazyConvertOptions : IValidatableObject
{
    /// <summary>
    /// The chunk size: a power of two from 64 KiB to 16 MiB. Files are cut at its multiples.
    /// <value>Default: 1 MiB (<see cref="LazyFormat.DefaultChunkSize"/>).</value>
    /// </summary>
    public int ChunkSize { get; init; } = LazyFormat.DefaultChunkSize;

    /// <summary>
    /// An earlier lazy image whose chunks are reused by reference: a chunk with the same digest is not stored again,
    /// and the new manifest lists the earlier image's data blobs it uses. <value>Default: none.</value>
    /// </summary>
    public LazyImage? ChunkDictionary { get; init; }

    /// <summary>Paths (from the image root) a mount fetches first, in order; paths not in the image are skipped. <value>Default: none.</value></summary>
    public IReadOnlyList<string>? PrefetchPaths { get; init; }

    /// <summary>Chunks compressed at once. The output is the same for every value. <value>Default: the processor count.</value></summary>
    public int MaxParallelism { get; init; } = Environment.ProcessorCount;

    /// <summary>
    /// The size at which a data blob is closed and the next begun (a blob ends at a chunk boundary, so it can be a
    /// little larger). <value>Default: 64 MiB.</value>
    /// </summary>
    public long DataBlobSize { get; init; } = 64L << 20;

    /// <summary>The platform to convert from a multi-platform source. <value>Default: the current platform.</value></summary>
    public Platform? Platform { get; init; }

    /// <summary>Where the chunk spool and data blobs are written while converting. <value>Default: the system temp directory.</value></summary>
    public string? TempDirectory { get; init; }

    /// <summary>Whether each layer's uncompressed digest is checked against the config's diff_ids. <value>Default: true.</value></summary>
    public bool VerifyDiffIds { get; init; } = true;

    /// <summary>The most entries one layer may have. <value>Default: 1,000,000.</value></summary>
    public int MaxEntriesPerLayer { get; init; } = 1_000_000;

    /// <summary>The most bytes one layer may decompress to. <value>Default: 64 GiB.</value></summary>
    public long MaxLayerBytes { get; init; } = 64L << 30;

    /// <summary>Blobs uploaded at once. <value>Default: 4.</value></summary>
    public int MaxParallelUploads { get; init; } = 4;

    /// <summary>Progress reports, if wanted.</summary>
    public IProgress<LazyConvertProgress>? Progress { get; init; }

    /// <inheritdoc />
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!LazyFormat.IsValidChunkSize(ChunkSize))
        {
            yield return new ValidationResult(
                $"{nameof(ChunkSize)} must be a power of two from {LazyFormat.MinChunkSize} (64 KiB) to {LazyFormat.MaxChunkSize} (16 MiB) bytes.");
        }

        if (MaxParallelism < 1)
        {
            yield return new ValidationResult($"{nameof(MaxParallelism)} must be at least 1.");
        }

        if (MaxParallelUploads < 1)
        {
            yield return new ValidationResult($"{nameof(MaxParallelUploads)} must be at least 1.");
        }

        if (DataBlobSize < ChunkSize)
        {
            yield return new ValidationResult($"{nameof(DataBlobSize)} must be at least the chunk size.");
        }

        if (MaxEntriesPerLayer < 1 || MaxLayerBytes < 1)
        {
            yield return new ValidationResult("Layer limits must be positive.");
        }
    }
}

/// <summary>Validates <see cref="LazyConvertOptions"/> (generated from its data annotations and rules).</summary>
[OptionsValidator]
public sealed partial class LazyConvertOptionsValidator : IValidateOptions<LazyConvertOptions>
{
}

/// <summary>Progress of a conversion.</summary>
/// <param name="Stage"><c>read</c> (layers read and chunked; units: compressed layer bytes), <c>pack</c> (chunks
/// copied into data blobs; units: stored bytes) or <c>push</c> (blobs uploaded; units: bytes).</param>
/// <param name="Completed">Units done.</param>
/// <param name="Total">Units expected, or -1 when unknown.</param>
public readonly record struct LazyConvertProgress(string Stage, long Completed, long Total);

/// <summary>What a conversion made.</summary>
public sealed record LazyConvertResult
{
    /// <summary>The reference the lazy image was written to.</summary>
    public required ImageReference Target { get; init; }

    /// <summary>The digest of the lazy image's manifest.</summary>
    public required Digest ManifestDigest { get; init; }

    /// <summary>The digest of the source image manifest (the platform's, when the source is an index).</summary>
    public required Digest SourceDigest { get; init; }

    /// <summary>The bootstrap written.</summary>
    public required LazyBootstrap Bootstrap { get; init; }

    /// <summary>The size of the bootstrap layer (compressed).</summary>
    public required long BootstrapSize { get; init; }

    /// <summary>The new data blobs written.</summary>
    public required int DataBlobs { get; init; }

    /// <summary>The bytes of the new data blobs (new chunk data).</summary>
    public required long DataBytes { get; init; }

    /// <summary>The chunk dictionary's blobs the image reuses.</summary>
    public required int ReusedBlobs { get; init; }

    /// <summary>The stored bytes of the chunks taken from the chunk dictionary.</summary>
    public required long ReusedBytes { get; init; }

    /// <summary>The compressed size of the source image's layers.</summary>
    public required long SourceLayerBytes { get; init; }

    /// <summary>The logical size of the regular files of the flattened tree (each inode once, holes included).</summary>
    public required long FileBytes { get; init; }

    /// <summary>The distinct chunks of the image.</summary>
    public required int Chunks { get; init; }

    /// <summary>Chunk references that found the same bytes already stored while converting.</summary>
    public required long DuplicateReferences { get; init; }

    /// <summary>Prefetch paths that are not in the image.</summary>
    public required int PrefetchMissing { get; init; }

    /// <summary>How long the conversion took.</summary>
    public required TimeSpan Elapsed { get; init; }
}
