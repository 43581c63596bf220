namespace Accelerator.Oci.Model;

/// <summary>Media types of the OCI image specification and of Docker's image manifest v2 schema 2.</summary>
public static class MediaTypes
{
    /// <summary>OCI image manifest.</summary>
    public const string OciManifest = "application/vnd.oci.image.manifest.v1+json";

    /// <summary>OCI image index.</summary>
    public const string OciIndex = "application/vnd.oci.image.index.v1+json";

    /// <summary>OCI image config.</summary>
    public const string OciConfig = "application/vnd.oci.image.config.v1+json";

    /// <summary>OCI layer, uncompressed tar.</summary>
    public const string OciLayer = "application/vnd.oci.image.layer.v1.tar";

    /// <summary>OCI layer, gzip-compressed tar.</summary>
    public const string OciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";

    /// <summary>OCI layer, zstd-compressed tar.</summary>
    public const string OciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";

    /// <summary>OCI non-distributable layer, uncompressed (deprecated but still seen).</summary>
    public const string OciLayerNonDistributable = "application/vnd.oci.image.layer.nondistributable.v1.tar";

    /// <summary>OCI non-distributable layer, gzip.</summary>
    public const string OciLayerNonDistributableGzip = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";

    /// <summary>OCI non-distributable layer, zstd.</summary>
    public const string OciLayerNonDistributableZstd = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";

    /// <summary>OCI empty JSON descriptor (<c>{}</c>).</summary>
    public const string OciEmpty = "application/vnd.oci.empty.v1+json";

    /// <summary>Docker image manifest v2 schema 2.</summary>
    public const string DockerManifest = "application/vnd.docker.distribution.manifest.v2+json";

    /// <summary>Docker manifest list.</summary>
    public const string DockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";

    /// <summary>Docker image config.</summary>
    public const string DockerConfig = "application/vnd.docker.container.image.v1+json";

    /// <summary>Docker layer, gzip-compressed tar.</summary>
    public const string DockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";

    /// <summary>Docker foreign layer (gzip).</summary>
    public const string DockerForeignLayerGzip = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

    /// <summary>Docker layer, uncompressed (rare; accepted on read).</summary>
    public const string DockerLayer = "application/vnd.docker.image.rootfs.diff.tar";

    /// <summary>The Accept header value for manifests: every manifest and index type we understand.</summary>
    public static readonly string[] ManifestAccept = [OciManifest, OciIndex, DockerManifest, DockerManifestList];

    /// <summary>Whether the type is an image manifest (OCI or Docker).</summary>
    public static bool IsManifest(string? mediaType) => mediaType is OciManifest or DockerManifest;

    /// <summary>Whether the type is an index or manifest list.</summary>
    public static bool IsIndex(string? mediaType) => mediaType is OciIndex or DockerManifestList;

    /// <summary>The compression of a layer media type.</summary>
    public static LayerCompression GetLayerCompression(string mediaType) => mediaType switch
    {
        OciLayer or OciLayerNonDistributable or DockerLayer => LayerCompression.None,
        OciLayerGzip or OciLayerNonDistributableGzip or DockerLayerGzip or DockerForeignLayerGzip => LayerCompression.Gzip,
        OciLayerZstd or OciLayerNonDistributableZstd => LayerCompression.Zstd,
        _ => throw new NotSupportedException($"Unsupported layer media type '{mediaType}'."),
    };

    /// <summary>Whether the media type is a tar layer this library can unpack.</summary>
    public static bool IsLayer(string mediaType) => mediaType is OciLayer or OciLayerGzip or OciLayerZstd
        or OciLayerNonDistributable or OciLayerNonDistributableGzip or OciLayerNonDistributableZstd
        or DockerLayerGzip or DockerForeignLayerGzip or DockerLayer;
}

/// <summary>How a layer tar is compressed.</summary>
public enum LayerCompression
{
    /// <summary>Plain tar.</summary>
    None,

    /// <summary>gzip (RFC 1952).</summary>
    Gzip,

    /// <summary>Zstandard (RFC 8878).</summary>
    Zstd,
}
