using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Accelerator.Lazy.Reading;

/// <summary>Options of <see cref="LazyFileReader"/>: how chunks are fetched. Checked by <see cref="LazyReaderOptionsValidator"/>.</summary>
public sealed record LazyReaderOptions : IValidatableObject
{
    /// <summary>Ranged requests for readers under way at once. <value>Default: 8.</value></summary>
    public int MaxConcurrentFetches { get; init; } = 8;

    /// <summary>
    /// Ranged requests for background prefetch under way at once. They are a separate pool, and a prefetch request starts
    /// only while no reader's request is waiting for a slot. <value>Default: 2.</value>
    /// </summary>
    public int MaxConcurrentPrefetches { get; init; } = 2;

    /// <summary>
    /// The largest ranged request: missing chunks are merged into one request up to this many stored bytes (a single
    /// chunk larger than this is still fetched whole, in one request). <value>Default: 4 MiB.</value>
    /// </summary>
    public int MaxRequestBytes { get; init; } = 4 << 20;

    /// <summary>
    /// The largest gap between two missing chunks of one data blob (bytes of chunks that are not needed, or already
    /// cached) that is fetched and thrown away to merge them into one request. <value>Default: 16 KiB.</value>
    /// </summary>
    public int MergeGapBytes { get; init; } = 16 << 10;

    /// <summary>
    /// Read-ahead for small chunks: when a reader's request is shorter than this, the missing chunks that follow it in
    /// its data blob are fetched in the same request, up to this many bytes in all. The converter packs a directory's
    /// small files next to each other, so this saves a round trip per file when a program reads its neighbours; chunks
    /// at least this big are never extended. 0 turns it off. <value>Default: 64 KiB.</value>
    /// </summary>
    public int ReadAheadBytes { get; init; } = 64 << 10;

    /// <summary>
    /// The longest one ranged request may take, from the moment it has a slot to its last byte. A request that takes
    /// longer fails with <see cref="TimeoutException"/>: its chunks stay absent and the readers waiting on them get the
    /// error (so a hung source never leaves a reader stuck), and a later read tries again.
    /// <see cref="Timeout.InfiniteTimeSpan"/> turns it off. <value>Default: 60 seconds.</value>
    /// </summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The prefetch order after the image's prefetch list: when true, <see cref="Prefetch.LazyPrefetcher"/> goes on to
    /// fetch every other chunk, in data blob order (the converter's path order). <value>Default: false.</value>
    /// </summary>
    public bool PrefetchAll { get; init; }

    /// <summary>The name of the origin blob source in statistics, used by <see cref="LazyFileReader.Create"/>. <value>Default: "origin".</value></summary>
    public string SourceName { get; init; } = "origin";

    /// <inheritdoc />
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (MaxConcurrentFetches < 1)
        {
            yield return new ValidationResult($"{nameof(MaxConcurrentFetches)} must be at least 1.");
        }

        if (MaxConcurrentPrefetches < 1)
        {
            yield return new ValidationResult($"{nameof(MaxConcurrentPrefetches)} must be at least 1.");
        }

        if (MaxRequestBytes is < 4096 or > 256 << 20)
        {
            yield return new ValidationResult($"{nameof(MaxRequestBytes)} must be 4096 to {256 << 20} bytes.");
        }

        if (MergeGapBytes < 0 || MergeGapBytes > MaxRequestBytes)
        {
            yield return new ValidationResult($"{nameof(MergeGapBytes)} must be 0 to {nameof(MaxRequestBytes)}.");
        }

        if (ReadAheadBytes < 0 || ReadAheadBytes > MaxRequestBytes)
        {
            yield return new ValidationResult($"{nameof(ReadAheadBytes)} must be 0 to {nameof(MaxRequestBytes)}.");
        }

        // A rule rather than [Required]: LazyMountOptions validates its Reader itself, to prefix the failures "Reader: ".
        if (string.IsNullOrWhiteSpace(SourceName))
        {
            yield return new ValidationResult($"{nameof(SourceName)} must be set.");
        }

        if (RequestTimeout != Timeout.InfiniteTimeSpan && RequestTimeout <= TimeSpan.Zero)
        {
            yield return new ValidationResult($"{nameof(RequestTimeout)} must be positive, or Timeout.InfiniteTimeSpan.");
        }
    }
}

/// <summary>Validates <see cref="LazyReaderOptions"/> (generated from its data annotations and rules).</summary>
[OptionsValidator]
public sealed partial class LazyReaderOptionsValidator : IValidateOptions<LazyReaderOptions>
{
}
