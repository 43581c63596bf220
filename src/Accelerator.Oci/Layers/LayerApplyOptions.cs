namespace Accelerator.Oci.Layers;

/// <summary>Options of <see cref="LayerApplier"/>.</summary>
public sealed class LayerApplyOptions
{
    /// <summary>The most bytes the layer may decompress to (tar headers included); more raises
    /// <see cref="ContentTooLargeException"/>, so a decompression bomb stops early.</summary>
    /// <value>Default 64 GiB.</value>
    public long MaxUncompressedBytes { get; set; } = 64L << 30;

    /// <summary>The most entries a layer may have.</summary>
    /// <value>Default 1,000,000.</value>
    public int MaxEntries { get; set; } = 1_000_000;

    /// <summary>Whether to set owners (uid/gid) from the archive. <see langword="null"/> sets them when the process
    /// runs as root (other users cannot give files away).</summary>
    /// <value>Default <see langword="null"/>.</value>
    public bool? PreserveOwnership { get; set; }
}
