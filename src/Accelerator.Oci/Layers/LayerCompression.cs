namespace Accelerator.Oci.Layers;

/// <summary>How a layer blob is compressed.</summary>
public enum LayerCompression
{
    /// <summary>A plain tar stream.</summary>
    None,

    /// <summary>gzip (RFC 1952), possibly several members one after another.</summary>
    Gzip,

    /// <summary>Zstandard (RFC 8878), possibly several frames one after another.</summary>
    Zstd,
}
