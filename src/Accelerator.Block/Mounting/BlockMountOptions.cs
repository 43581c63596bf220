using System.ComponentModel.DataAnnotations;
using Accelerator.Fuse.Takeover;
using Microsoft.Extensions.Options;

namespace Accelerator.Block.Mounting;

/// <summary>Options of the block mount strategy, checked by <see cref="BlockMountOptionsValidator"/>.</summary>
public sealed class BlockMountOptions : IValidatableObject
{
    /// <summary>Where verified blocks of block images are cached; shared by mounts and servers, kept across restarts.</summary>
    /// <value>Default: <c>/var/cache/accel/blocks</c> when it can be created, else a directory under the temp path.</value>
    public string? CacheDirectory { get; set; }

    /// <summary>The most bytes the block cache keeps (0: no bound).</summary>
    /// <value>Default 0.</value>
    public long MaxCacheBytes { get; set; }

    /// <summary>Where each mount's private directories (FUSE file, lower mount, overlay upper and work) are made.</summary>
    /// <value>Default: <c>/run/accel</c> when it can be created, else the temp path.</value>
    public string? StateDirectory { get; set; }

    /// <summary>
    /// Attach the loop device with direct I/O (<c>losetup --direct-io=on</c>), so the disk's pages are cached once, by
    /// the file system on the loop device, not a second time under it.
    /// </summary>
    /// <value>Default <see langword="true"/>.</value>
    public bool DirectIo { get; set; } = true;

    /// <summary>The loop device's logical sector size: 512, 1024, 2048 or 4096 (at most the file system's block size).</summary>
    /// <value>Default 512.</value>
    public int SectorSize { get; set; } = 512;

    /// <summary>The loop device's readahead in KiB (the kernel's default is 128); null keeps the default.</summary>
    /// <value>Default 4096: sequential reads reach the disk as 1 MiB FUSE READs, four in flight.</value>
    [Range(0, 1024 * 1024)]
    public int? ReadAheadKilobytes { get; set; } = 4096;

    /// <summary>
    /// The fetch bound (<c>accel mount --fetch-timeout</c>, <c>accel block serve --fetch-timeout</c>): how long a read of
    /// the disk may wait for its blocks before the loop device (or the NBD client) gets EIO, so a registry that is down
    /// (connection refused) or hung (accepts and never answers) never hangs the mount. The ranged requests behind it are
    /// abandoned a little before it (at most 60 s each), which leaves nothing pending or failed behind: cached blocks go on
    /// being served during an outage, and the next read after the registry is back fetches again.
    /// </summary>
    /// <value>Default 2 minutes.</value>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>The largest <see cref="RequestTimeout"/>: 24 hours.</summary>
    public static readonly TimeSpan MaxRequestTimeout = TimeSpan.FromHours(24);

    /// <summary>
    /// When set, every block an image mount reads (mounting and the container's start included) is recorded in
    /// first-read order and written to this file when the mount is disposed, as the block trace
    /// <c>accel convert --format block --prefetch-list FILE</c> takes (<c>accel mount --record-trace</c>). Raw disks
    /// mounted with <see cref="BlockMounter.MountDiskAsync"/> are not traced.
    /// </summary>
    /// <value>Default null: nothing is recorded.</value>
    public string? TracePath { get; set; }

    /// <summary>
    /// Keep mounts alive across restarts of the serving process: each FUSE connection is deposited with a holder, and
    /// mounting the same image again at a held mount point takes the live mount over — the FUSE file, its loop device,
    /// the file system and the overlay are adopted, not made again. See <see cref="FuseTakeoverOptions"/>.
    /// </summary>
    /// <value>Default null: no takeover (a mount ends with its process).</value>
    [ValidateObjectMembers]
    public FuseTakeoverOptions? Takeover { get; set; }

    /// <inheritdoc />
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (SectorSize is not (512 or 1024 or 2048 or 4096))
        {
            yield return new ValidationResult($"{nameof(SectorSize)} must be 512, 1024, 2048 or 4096.");
        }

        if (MaxCacheBytes < 0)
        {
            yield return new ValidationResult($"{nameof(MaxCacheBytes)} must not be negative.");
        }

        // At most a day: the bound is a timer (of the fetch and of the FUSE read), and a read that waits longer is hung.
        if (RequestTimeout <= TimeSpan.Zero || RequestTimeout > MaxRequestTimeout)
        {
            yield return new ValidationResult($"{nameof(RequestTimeout)} must be positive and at most {MaxRequestTimeout.TotalHours:0} hours.");
        }
    }
}

/// <summary>Validates <see cref="BlockMountOptions"/> (generated from its data annotations and rules).</summary>
[OptionsValidator]
public sealed partial class BlockMountOptionsValidator : IValidateOptions<BlockMountOptions>
{
}
