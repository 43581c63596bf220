using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Accelerator.Chunks.Caching;

/// <summary>Options of <see cref="ChunkCache"/>, checked by <see cref="ChunkCacheOptionsValidator"/>.</summary>
public sealed record ChunkCacheOptions : IValidatableObject
{
    /// <summary>
    /// The cache directory. Created (mode 0700, since chunks of private images land here) when missing. Several caches,
    /// in one process or several, may share a directory: files are written under temporary names and renamed into
    /// place, and every file is verified before it is trusted.
    /// </summary>
    [Required]
    public required string Directory { get; init; }

    /// <summary>
    /// The most bytes of chunks the cache keeps; when a new chunk takes it over, the least recently used chunks are
    /// deleted. 0 means no bound. The bound is per <see cref="ChunkCache"/> instance: caches sharing a directory each
    /// count what they know of. <value>Default: 0 (no bound).</value>
    /// </summary>
    public long MaxCacheBytes { get; init; }

    /// <summary>
    /// Whether each chunk file is flushed to the disk (fsync) before it is renamed into place. Not needed for
    /// correctness — a file torn by a crash fails verification on its first use after the restart and is fetched
    /// again — only to avoid that refetch. <value>Default: false.</value>
    /// </summary>
    public bool FlushToDisk { get; init; }

    /// <summary>
    /// How old a leftover temporary file must be before <see cref="ChunkCache.Open"/> deletes it (younger ones may
    /// belong to another process writing into the same directory). <value>Default: 1 hour.</value>
    /// </summary>
    public TimeSpan StaleTemporaryFileAge { get; init; } = TimeSpan.FromHours(1);

    /// <summary>
    /// How many chunk files the cache keeps open for reading, so that a warm read is one <c>pread</c> rather than
    /// open, read and close; past this many, the longest-open are closed. 0 opens a file for every read.
    /// <value>Default: 256.</value>
    /// </summary>
    public int MaxOpenFiles { get; init; } = 256;

    /// <summary>The smallest non-zero <see cref="MaxCacheBytes"/>: 1 MiB.</summary>
    public const long MinMaxCacheBytes = 1L << 20;

    /// <inheritdoc />
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (MaxCacheBytes < 0 || (MaxCacheBytes > 0 && MaxCacheBytes < MinMaxCacheBytes))
        {
            yield return new ValidationResult($"{nameof(MaxCacheBytes)} must be 0 (no bound) or at least {MinMaxCacheBytes} bytes.");
        }

        if (MaxOpenFiles < 0)
        {
            yield return new ValidationResult($"{nameof(MaxOpenFiles)} must not be negative.");
        }

        if (StaleTemporaryFileAge < TimeSpan.Zero)
        {
            yield return new ValidationResult($"{nameof(StaleTemporaryFileAge)} must not be negative.");
        }
    }
}

/// <summary>Validates <see cref="ChunkCacheOptions"/> (generated from its data annotations and rules).</summary>
[OptionsValidator]
public sealed partial class ChunkCacheOptionsValidator : IValidateOptions<ChunkCacheOptions>
{
}

/// <summary>A snapshot of a <see cref="ChunkCache"/>'s counters.</summary>
/// <param name="Hits">Lookups served by a chunk already verified in this instance.</param>
/// <param name="Waits">Lookups that joined a fetch already under way for the same chunk.</param>
/// <param name="Misses">Lookups that had to produce the chunk (from a file on disk or by fetching it).</param>
/// <param name="LoadedFromDisk">Chunks taken from a file already on disk (an earlier run, another process) after verifying it.</param>
/// <param name="Stored">Chunks written to the cache.</param>
/// <param name="CorruptFiles">Files found torn or damaged (wrong size or digest) and deleted, never served.</param>
/// <param name="Evictions">Chunks deleted to keep the size bound.</param>
/// <param name="EvictedBytes">Bytes of the evicted chunks.</param>
/// <param name="StoreFailures">Chunks that could not be written (for example, a full disk); they were served from memory.</param>
/// <param name="Chunks">Chunk files the cache knows of now.</param>
/// <param name="Bytes">Their bytes.</param>
public readonly record struct ChunkCacheStatistics(
    long Hits, long Waits, long Misses, long LoadedFromDisk, long Stored, long CorruptFiles, long Evictions, long EvictedBytes, long StoreFailures, int Chunks, long Bytes);
