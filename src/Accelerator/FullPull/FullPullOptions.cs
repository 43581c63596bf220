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

    /// <summary>The most entries one layer may have. <value>Default: 1,000,000.</value></summary>
    [Range(1, int.MaxValue)]
    public int MaxEntriesPerLayer { get; set; } = 1_000_000;

    /// <summary>Check each layer against the config's diff IDs. <value>Default: true.</value></summary>
    public bool VerifyDiffIds { get; set; } = true;

    /// <summary>Remove the unpacked tree when the mount is disposed. <value>Default: true.</value></summary>
    public bool RemoveOnUnmount { get; set; } = true;
}

/// <summary>Validates <see cref="FullPullOptions"/>.</summary>
[OptionsValidator]
internal sealed partial class FullPullOptionsValidator : IValidateOptions<FullPullOptions>
{
}
