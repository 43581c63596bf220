namespace Accelerator.Block.Mounting;

/// <summary>
/// Opens the virtual disk of an image reference for <see cref="BlockMounter"/>: the block image format plugs in here
/// (its layer stack is the disk). Openers are tried in order; the first that can open an image does.
/// </summary>
public interface IBlockImageOpener
{
    /// <summary>Whether <paramref name="image"/> has a disk this opener can open; when not, why.</summary>
    ValueTask<(bool CanOpen, string? Reason)> CanOpenAsync(ImageReference image, Platform? platform, CancellationToken cancellationToken = default);

    /// <summary>Opens the disk of <paramref name="image"/>; the caller disposes it.</summary>
    /// <param name="image">The image.</param>
    /// <param name="platform">The platform to select from a multi-platform image; the current one when null.</param>
    /// <param name="statistics">Where to count bytes fetched per source and blocks fetched.</param>
    /// <param name="cancellationToken">Cancels opening.</param>
    Task<BlockImageDisk> OpenAsync(ImageReference image, Platform? platform, MountStatistics statistics, CancellationToken cancellationToken = default);
}

/// <summary>An opened image disk.</summary>
/// <param name="Disk">The disk (the caller disposes it).</param>
/// <param name="ManifestDigest">The digest of the manifest the disk was opened from.</param>
public sealed record BlockImageDisk(IVirtualDisk Disk, Digest ManifestDigest);
