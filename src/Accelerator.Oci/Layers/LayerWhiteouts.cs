namespace Accelerator.Oci.Layers;

/// <summary>
/// Names of the OCI image layer whiteout convention (OCI image spec, "Representing Changes", whiteouts):
/// an entry <c>DIR/.wh.NAME</c> deletes <c>DIR/NAME</c> of lower layers, an entry <c>DIR/.wh..wh..opq</c> hides all
/// lower-layer content of <c>DIR</c>.
/// </summary>
public static class LayerWhiteouts
{
    /// <summary>The prefix of a whiteout file name.</summary>
    public const string Prefix = ".wh.";

    /// <summary>The file name that marks its directory opaque.</summary>
    public const string OpaqueMarker = ".wh..wh..opq";

    /// <summary>The prefix of aufs metadata names (such as <c>.wh..wh.plnk</c>), which are never extracted.</summary>
    public const string MetadataPrefix = ".wh..wh.";
}
