using Accelerator.Linux;
using Accelerator.Oci.Layers;
using Accelerator.Oci.Model;

namespace Accelerator.Snapshotter.Remote;

/// <summary>
/// Unpacks the lowest layers of an image into one directory with their whiteouts applied (a flattened tree), for an
/// intermediate remote layer that another image's snapshot uses as its parent: that snapshot must see exactly layers
/// 0..depth, never the whole image the mount serves. Every blob is checked against its layer digest and, uncompressed,
/// against the config's diff_id (which the chain ID is made of), so the tree is the chain ID's content.
/// </summary>
internal static class LayerPrefixUnpacker
{
    /// <summary>
    /// Unpacks <paramref name="layers"/> (lowest first) of <paramref name="image"/>'s repository into
    /// <paramref name="target"/>, which must not exist; it appears whole (a rename) or not at all.
    /// </summary>
    public static async Task UnpackAsync(
        IImageStore store, ImageReference image, IReadOnlyList<Descriptor> layers, IReadOnlyList<Digest> diffIds, string target, CancellationToken cancellationToken)
    {
        string parent = Path.GetDirectoryName(target)!;
        PrivateDirectory.Create(parent);
        string staging = PrivateDirectory.CreateUnique(parent, ".unpack");
        try
        {
            string root = Directory.CreateDirectory(Path.Combine(staging, "fs")).FullName;
            var options = new LayerApplyOptions();
            for (int i = 0; i < layers.Count; i++)
            {
                Descriptor layer = layers[i];
                if (!MediaTypes.IsLayer(layer.MediaType))
                {
                    throw new InvalidDataException($"layer {i} of {image} ({layer.Digest}) has media type {layer.MediaType}, which is not a layer");
                }

                // The blob source verifies the compressed digest; the diff_id is checked on the uncompressed stream.
                await using Stream blob = await store.Blobs.OpenReadAsync(BlobAddress.For(image.Repository, layer), cancellationToken).ConfigureAwait(false);
                await using Stream tar = LayerStreams.OpenDecompressed(blob, MediaTypes.GetLayerCompression(layer.MediaType), options.MaxUncompressedBytes, leaveOpen: true);
                await using var verifying = new VerifyingStream(tar, diffIds[i], expectedSize: -1, $"uncompressed layer {layer.Digest} (config diff_id)", leaveOpen: true);
                await using (var reader = new LayerTarReader(verifying, new LayerTarReaderOptions { MaxEntries = options.MaxEntries }, leaveOpen: true))
                {
                    await LayerApplier.ApplyAsync(reader, root, options, cancellationToken).ConfigureAwait(false);
                }

                await verifying.CopyToAsync(Stream.Null, cancellationToken).ConfigureAwait(false);
                await blob.CopyToAsync(Stream.Null, cancellationToken).ConfigureAwait(false);
            }

            Directory.Move(root, target);
            DurableFile.SyncDirectory(parent);
        }
        finally
        {
            Directory.Delete(staging, recursive: true);
        }
    }
}
