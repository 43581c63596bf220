namespace Accelerator.Oci.Layers;

/// <summary>Limits of a <see cref="LayerTarReader"/>. Lengths inside headers are bounded by the reader's constants.</summary>
public sealed class LayerTarReaderOptions
{
    /// <summary>The most entries (files, directories, links, ...) an archive may hold; more is an error.</summary>
    /// <value>Default 1,000,000.</value>
    public int MaxEntries { get; set; } = 1_000_000;
}
