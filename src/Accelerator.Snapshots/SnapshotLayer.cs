namespace Accelerator.Snapshots;

/// <summary>A published tree layer of the store: one chain ID's directory, shared by every snapshot (and holder) that uses it.</summary>
/// <param name="ChainId">The layer's chain ID (its key).</param>
/// <param name="Parent">The chain ID of the layer under it; null for an image's first layer.</param>
/// <param name="TreePath">The layer's tree (<c>layers/HEX/fs</c>), exactly as an overlayfs lower directory holds it. Never write to it.</param>
/// <param name="DiffId">The diff ID its content was verified against when the store built it; null for an adopted layer (see <see cref="Adopted"/>).</param>
/// <param name="SizeBytes">Disk bytes of the tree.</param>
/// <param name="Adopted">
/// True when the tree was handed over by a local holder (<see cref="SnapshotStore.AdoptLayerAsync"/>, e.g. a layer containerd
/// unpacked) rather than built by the store from a verified blob.
/// </param>
/// <param name="Created">When it was published.</param>
public sealed record SnapshotLayer(Digest ChainId, Digest? Parent, string TreePath, Digest? DiffId, long SizeBytes, bool Adopted, DateTimeOffset Created);
