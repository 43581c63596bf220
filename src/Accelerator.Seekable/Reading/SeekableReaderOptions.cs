using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Accelerator.Seekable.Reading;

/// <summary>Options of <see cref="SeekableContentReader"/>: how units are fetched. Checked by <see cref="SeekableReaderOptionsValidator"/>.</summary>
public sealed record SeekableReaderOptions : IValidatableObject
{
    /// <summary>The largest <see cref="MaxRequestBytes"/>: 256 MiB.</summary>
    public const int MaxMaxRequestBytes = 256 << 20;

    /// <summary>
    /// The longest one ranged request may take, from the moment it has a slot to its last byte. A request that takes
    /// longer fails with a <see cref="TimeoutException"/> naming the source: its units stay absent, every reader waiting
    /// on them gets the error (EIO through FUSE), and a later read tries again. <see cref="Timeout.InfiniteTimeSpan"/>
    /// turns it off. <value>Default: 2 minutes (the mounter lowers it).</value>
    /// </summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>The name of the blob source in statistics and timeout errors. <value>Default: "origin".</value></summary>
    [Required]
    public string SourceName { get; init; } = "origin";

    /// <summary>
    /// The largest ranged request: missing units of one layer that are adjacent in its blob are merged into one request
    /// up to this many bytes (a single larger unit is still fetched whole, in one request). <value>Default: 8 MiB.</value>
    /// </summary>
    [Range(4096, MaxMaxRequestBytes)]
    public int MaxRequestBytes { get; init; } = 8 << 20;

    /// <summary>Ranged requests under way at once, readers and prefetch together. <value>Default: 8.</value></summary>
    [Range(1, 256)]
    public int MaxParallelRequests { get; init; } = 8;

    /// <summary>
    /// Read-ahead for small units: when a read fetches less than this many encoded bytes, the absent units that follow
    /// in the layer's blob are taken along while the request stays within this many bytes (eStargz and zstd:chunked
    /// chunks of neighbouring small files). 0 turns it off. <value>Default: 64 KiB.</value>
    /// </summary>
    [Range(0, MaxMaxRequestBytes)]
    public int ReadAheadBytes { get; init; } = 64 << 10;

    /// <inheritdoc />
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (RequestTimeout != Timeout.InfiniteTimeSpan && RequestTimeout <= TimeSpan.Zero)
        {
            yield return new ValidationResult($"{nameof(RequestTimeout)} must be positive, or Timeout.InfiniteTimeSpan.");
        }

        if (string.IsNullOrWhiteSpace(SourceName))
        {
            yield return new ValidationResult($"{nameof(SourceName)} must be set.");
        }

        if (ReadAheadBytes > MaxRequestBytes)
        {
            yield return new ValidationResult($"{nameof(ReadAheadBytes)} must not exceed {nameof(MaxRequestBytes)}.");
        }
    }
}

/// <summary>Validates <see cref="SeekableReaderOptions"/> (generated from its data annotations and rules).</summary>
[OptionsValidator]
public sealed partial class SeekableReaderOptionsValidator : IValidateOptions<SeekableReaderOptions>
{
}
