using System.ComponentModel.DataAnnotations;
using Accelerator.Fuse.Takeover;
using Accelerator.Lazy.Reading;
using Microsoft.Extensions.Options;

namespace Accelerator.Lazy.Mounting;

/// <summary>Options of the lazy mount strategy, checked by <see cref="LazyMountOptionsValidator"/>.</summary>
public sealed class LazyMountOptions : IValidatableObject
{
    /// <summary>
    /// Where verified chunks are cached; shared by mounts and kept across restarts.
    /// <value>Default: <c>/var/cache/accel/chunks</c> when it can be created, else a directory under the temp path.</value>
    /// </summary>
    public string? CacheDirectory { get; set; }

    /// <summary>The most bytes the chunk cache keeps (0: no bound). <value>Default: 0.</value></summary>
    public long MaxCacheBytes { get; set; }

    /// <summary>
    /// Where each mount's private directories (the FUSE lower tree, overlay upper and work) are made.
    /// <value>Default: <c>/run/accel</c> when it can be created, else the temp path.</value>
    /// </summary>
    public string? StateDirectory { get; set; }

    /// <summary>Fetch limits of the reader. <value>Default: <see cref="LazyReaderOptions"/> defaults.</value></summary>
    [Required]
    public LazyReaderOptions Reader { get; set; } = new();

    /// <summary>Prefetch the image's prefetch list in the background once mounted. <value>Default: true.</value></summary>
    public bool Prefetch { get; set; } = true;

    /// <summary>
    /// The fetch bound (<c>accel mount --fetch-timeout</c>): how long a FUSE read may wait for its chunks before the
    /// reader gets EIO, so a registry that is down (connection refused) or hung (accepts and never answers) never
    /// blocks a reader forever. The ranged requests behind the read are abandoned a little before it
    /// (<see cref="LazyReaderOptions.RequestTimeout"/> is capped so), which leaves nothing pending or failed behind:
    /// cached chunks go on being served during an outage, and the next read after the registry is back fetches again.
    /// <value>Default: 2 minutes.</value>
    /// </summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>The largest <see cref="RequestTimeout"/>: 24 hours.</summary>
    public static readonly TimeSpan MaxRequestTimeout = TimeSpan.FromHours(24);

    /// <summary>
    /// Images without a converted variant: the largest gzip or tar layer without a seekable index (and not eStargz or
    /// zstd:chunked) that is fetched whole at mount, verified against its digest and indexed then; a larger one makes the
    /// image unmountable lazily (the reason says to run <c>accel index</c>). 0: none is.
    /// <value>Default: 16 MiB.</value>
    /// </summary>
    public long MaxWholeLayerBytes { get; set; } = DefaultMaxWholeLayerBytes;

    /// <summary>The default <see cref="MaxWholeLayerBytes"/>: 16 MiB.</summary>
    public const long DefaultMaxWholeLayerBytes = 16L << 20;

    /// <summary>The largest <see cref="MaxWholeLayerBytes"/>: 1 GiB (the layer is indexed in memory at mount).</summary>
    public const long MaxMaxWholeLayerBytes = 1L << 30;

    /// <summary>
    /// <c>accel mount --verify-index</c>: a seekable index's span digests and file table are the indexer's claims. With
    /// this set, every layer read through an index from the artifact is fetched whole in the background (after the
    /// prefetch), hashed against its layer digest and indexed again; an index that does not match fails every further
    /// read of the mount (EIO) and is logged as an error. eStargz and zstd:chunked TOCs are verified by their annotated
    /// digests and need no such check. <value>Default: false.</value>
    /// </summary>
    public bool VerifyIndexedLayers { get; set; }

    /// <summary>When set, the mount's statistics are written there as JSON when it is unmounted (<c>--stats-json</c>).</summary>
    public string? StatisticsJsonPath { get; set; }

    /// <summary>When set, the files read are written there as a prefetch list when unmounted (<c>--record-trace</c>).</summary>
    public string? TracePath { get; set; }

    /// <summary>
    /// Keep mounts alive across restarts of the serving process: each FUSE connection is deposited with a holder, and
    /// mounting the same image again at a held mount point takes the live mount over (from a running predecessor, or
    /// after a crash) instead of mounting anew. See <see cref="FuseTakeoverOptions"/>.
    /// </summary>
    /// <value>Default null: no takeover (a mount ends with its process).</value>
    [ValidateObjectMembers]
    public FuseTakeoverOptions? Takeover { get; set; }

    /// <inheritdoc />
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        // "Not negative" rules are written here, not as [Range]: the generated validator's range message would print the
        // upper bound long.MaxValue as 9.223372036854776E+18.
        if (MaxCacheBytes < 0)
        {
            yield return new ValidationResult($"{nameof(MaxCacheBytes)} must not be negative.");
        }

        if (MaxWholeLayerBytes < 0 || MaxWholeLayerBytes > MaxMaxWholeLayerBytes)
        {
            yield return new ValidationResult($"{nameof(MaxWholeLayerBytes)} must be 0 to {MaxMaxWholeLayerBytes} bytes.");
        }

        // At most a day: the bound is a timer (of the fetch and of the FUSE read), and a read that waits longer is hung.
        if (RequestTimeout <= TimeSpan.Zero || RequestTimeout > MaxRequestTimeout)
        {
            yield return new ValidationResult($"{nameof(RequestTimeout)} must be positive and at most {MaxRequestTimeout.TotalHours:0} hours.");
        }

        if (Reader is not null && new LazyReaderOptionsValidator().Validate(Options.DefaultName, Reader) is { Failed: true, Failures: { } readerFailures })
        {
            foreach (string failure in readerFailures)
            {
                yield return new ValidationResult($"{nameof(Reader)}: {failure}");
            }
        }
    }
}

/// <summary>Validates <see cref="LazyMountOptions"/> (generated from its data annotations and rules).</summary>
[OptionsValidator]
public sealed partial class LazyMountOptionsValidator : IValidateOptions<LazyMountOptions>
{
}
