using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Accelerator.Block.Layers;

/// <summary>Options of <see cref="BlockLayerStack"/>, checked by <see cref="BlockStackOptionsValidator"/>.</summary>
public sealed record BlockStackOptions : IValidatableObject
{
    // The default of RequestTimeout, also the most a mount's fetch bound gives the stack (BlockImageOpener).
    internal static readonly TimeSpan DefaultRequestTimeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The local block cache directory: verified, uncompressed blocks by sha256 (the lazy chunk cache's layout, so
    /// both can share one directory). Created (mode 0700) when missing.
    /// </summary>
    [Required]
    public required string CacheDirectory { get; init; }

    /// <summary>The most bytes of blocks the cache keeps (least recently used deleted first); 0 for no bound. <value>Default: 0.</value></summary>
    public long MaxCacheBytes { get; init; }

    /// <summary>Ranged requests under way at once. <value>Default: 16.</value></summary>
    public int MaxConcurrentFetches { get; init; } = 16;

    /// <summary>Prefetch workers (each with one request under way). <value>Default: 2.</value></summary>
    public int MaxConcurrentPrefetches { get; init; } = 2;

    /// <summary>The most bytes one ranged request asks for (missing blocks adjacent in a blob are merged). <value>Default: 4 MiB.</value></summary>
    public int MaxRequestBytes { get; init; } = 4 << 20;

    /// <summary>The most bytes between two blocks of a blob that are still fetched with one request. <value>Default: 0 (only adjacent blocks).</value></summary>
    public int MergeGapBytes { get; init; }

    /// <summary>How long one ranged request may take before it fails with <see cref="TimeoutException"/> (an <see cref="IOException"/> to readers). <value>Default: 60 seconds.</value></summary>
    public TimeSpan RequestTimeout { get; init; } = DefaultRequestTimeout;

    /// <summary>Whether opening the stack starts replaying the index's prefetch trace in the background. <value>Default: true.</value></summary>
    public bool PrefetchOnOpen { get; init; } = true;

    /// <summary>How many chunk files the cache keeps open (a warm read is then one <c>pread</c>). <value>Default: 4096.</value></summary>
    public int MaxOpenCacheFiles { get; init; } = 4096;

    /// <inheritdoc />
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (MaxConcurrentFetches < 1 || MaxConcurrentPrefetches < 1)
        {
            yield return new ValidationResult($"{nameof(MaxConcurrentFetches)} and {nameof(MaxConcurrentPrefetches)} must be at least 1.");
        }

        if (MaxRequestBytes < Format.BlockFormat.MaxBlockSize)
        {
            yield return new ValidationResult($"{nameof(MaxRequestBytes)} must be at least {Format.BlockFormat.MaxBlockSize} (the largest block).");
        }

        if (MergeGapBytes < 0 || MaxCacheBytes < 0 || MaxOpenCacheFiles < 0)
        {
            yield return new ValidationResult($"{nameof(MergeGapBytes)}, {nameof(MaxCacheBytes)} and {nameof(MaxOpenCacheFiles)} must not be negative.");
        }

        if (RequestTimeout <= TimeSpan.Zero && RequestTimeout != Timeout.InfiniteTimeSpan)
        {
            yield return new ValidationResult($"{nameof(RequestTimeout)} must be positive or infinite.");
        }
    }
}

/// <summary>Validates <see cref="BlockStackOptions"/> (generated from its data annotations and rules).</summary>
[OptionsValidator]
public sealed partial class BlockStackOptionsValidator : IValidateOptions<BlockStackOptions>
{
}
