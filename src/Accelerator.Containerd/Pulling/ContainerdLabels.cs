namespace Accelerator.Containerd.Pulling;

/// <summary>Label names containerd (1.6) and its CRI plugin use on content and snapshots.</summary>
public static class ContainerdLabels
{
    /// <summary>On a snapshot being prepared: the chain ID it will be committed as (containerd's unpacker sets it).</summary>
    public const string SnapshotRef = "containerd.io/snapshot.ref";

    /// <summary>On a layer's snapshot (CRI): the image reference being pulled.</summary>
    public const string CriImageRef = "containerd.io/snapshot/cri.image-ref";

    /// <summary>On a layer's snapshot (CRI): the digest of the platform manifest.</summary>
    public const string CriManifestDigest = "containerd.io/snapshot/cri.manifest-digest";

    /// <summary>On a layer's snapshot (CRI): the layer's (compressed) digest.</summary>
    public const string CriLayerDigest = "containerd.io/snapshot/cri.layer-digest";

    /// <summary>
    /// On a layer's snapshot (CRI): the digests of this layer and every layer above it, comma-separated, as many as fit
    /// in the label size limit (pkg/snapshotters/annotations.go, getLayers).
    /// </summary>
    public const string CriImageLayers = "containerd.io/snapshot/cri.image-layers";

    /// <summary>On a layer blob: its uncompressed digest (diff ID), set once the layer was applied and checked.</summary>
    public const string Uncompressed = "containerd.io/uncompressed";

    /// <summary>On a config blob, followed by the snapshotter's name: the top chain ID, which marks the image unpacked there and keeps its snapshots from GC.</summary>
    public const string GcSnapshotPrefix = "containerd.io/gc.ref.snapshot.";

    /// <summary>On a manifest: the config blob it keeps from GC.</summary>
    public const string GcConfig = "containerd.io/gc.ref.content.config";

    /// <summary>On a manifest, followed by the layer's index: a layer blob it keeps from GC.</summary>
    public const string GcLayerPrefix = "containerd.io/gc.ref.content.l.";

    /// <summary>On an index, followed by the manifest's index: a manifest it keeps from GC.</summary>
    public const string GcManifestPrefix = "containerd.io/gc.ref.content.m.";

    /// <summary>On a lease: when it expires (RFC 3339), so a pull that died does not hold its content forever.</summary>
    public const string GcExpire = "containerd.io/gc.expire";

    /// <summary>The most bytes of a label's key and value together (containerd's labels.Validate).</summary>
    public const int MaxLabelBytes = 4096;
}
