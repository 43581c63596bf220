using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Accelerator.FullPull;

/// <summary>Options of the full-pull strategy: pull every layer, verify, unpack.</summary>
public sealed class FullPullOptions
{
    /// <summary>Layers downloaded at once. <value>Default: 4.</value></summary>
    [Range(1, 64)]
    public int MaxParallelDownloads { get; set; } = 4;

    /// <summary>The most bytes one layer may decompress to. <value>Default: 64 GiB.</value></summary>
    [Range(1L, long.MaxValue)]
    public long MaxUncompressedLayerBytes { get; set; } = 64L << 30;

    /// <summary>
    /// The most bytes all layers of one image may decompress to together, or null for no bound but the per-layer one.
    /// Going over fails the mount with <see cref="ContentTooLargeException"/> and leaves nothing behind.
    /// <value>Default: null.</value>
    /// </summary>
    [Range(1L, long.MaxValue)]
    public long? MaxUncompressedImageBytes { get; set; }

    /// <summary>The most entries one layer may have. <value>Default: 1,000,000.</value></summary>
    [Range(1, int.MaxValue)]
    public int MaxEntriesPerLayer { get; set; } = 1_000_000;

    /// <summary>Check each layer against the config's diff IDs. <value>Default: true.</value></summary>
    public bool VerifyDiffIds { get; set; } = true;

    /// <summary>Remove the unpacked tree when the mount is disposed. <value>Default: true.</value></summary>
    public bool RemoveOnUnmount { get; set; } = true;

    /// <summary>
    /// Present the unpacked tree as a real mount at the mount point, as every other strategy does: the tree is
    /// unpacked into a private directory under <see cref="StateDirectory"/> and mounted at the mount point as an
    /// overlay (writable, with its upper and work directories beside the tree; read-only with
    /// <see cref="MountOptions.ReadOnly"/>). The mount point then is a mount point (readiness checks, <c>umount</c>),
    /// writes never change the unpacked tree, and disposing unmounts it (and removes the private directory when
    /// <see cref="RemoveOnUnmount"/>). Needs the right to mount (root). When false the tree is unpacked at the mount
    /// point itself, a plain directory. <value>Default: false.</value>
    /// </summary>
    public bool MountUnpackedTree { get; set; }

    /// <summary>
    /// With <see cref="MountUnpackedTree"/>: where each mount's private directory (tree, upper, work) is made, created
    /// 0700 so that no other user reaches the image's set-user-ID files through it. It holds whole images: put it on
    /// a disk, not in memory. <value>Default: <c>/var/lib/accel/full</c> when it can be created, else the temp path.</value>
    /// </summary>
    public string? StateDirectory { get; set; }
}

/// <summary>Validates <see cref="FullPullOptions"/>.</summary>
[OptionsValidator]
internal sealed partial class FullPullOptionsValidator : IValidateOptions<FullPullOptions>
{
}
