using Accelerator.Oci.Model;
using Accelerator.Oci.Resolution;

namespace Accelerator.Snapshotter.Remote;

/// <summary>
/// The image manifest a Prepare's labels name, read by digest (so verified), with the chain IDs of its layers computed
/// from its config's diff_ids (OCI image spec, "ChainID": <c>ChainID(L0) = DiffID(L0)</c>,
/// <c>ChainID(L0..n) = sha256(ChainID(L0..n-1) + " " + DiffID(Ln))</c>). A converted image keeps its source's config,
/// so its chain IDs are the source's.
/// </summary>
internal sealed record RemoteImageManifest(
    ImageReference Image, Digest ManifestDigest, ImageManifest Manifest, IReadOnlyList<Digest> DiffIds, IReadOnlyList<string> ChainIds)
{
    /// <summary>The converted image's source manifest (<see cref="AcceleratedVariant.SourceDigestAnnotation"/>), or null for a source image.</summary>
    public string? SourceDigest => Manifest.Annotations?.GetValueOrDefault(AcceleratedVariant.SourceDigestAnnotation);

    /// <summary>The depth (0 = lowest layer) of <paramref name="chainId"/> in this image, or -1.</summary>
    public int DepthOf(string chainId)
    {
        for (int i = 0; i < ChainIds.Count; i++)
        {
            if (string.Equals(ChainIds[i], chainId, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>Reads manifest <paramref name="manifest"/> of <paramref name="image"/>'s repository and its config.</summary>
    /// <exception cref="InvalidDataException">The digest names no image manifest, or its config has no layers or too many.</exception>
    public static async Task<RemoteImageManifest> ReadAsync(IImageStore store, ImageReference image, Digest manifest, int maxLayers, CancellationToken cancellationToken)
    {
        ManifestDocument document = await store.GetManifestAsync(image, manifest, cancellationToken).ConfigureAwait(false);
        ImageManifest imageManifest = document.Manifest
            ?? throw new InvalidDataException($"{manifest} in {image.Name} is not an image manifest (an index?)");
        if (imageManifest.Config.Size > ImageResolver.MaxConfigSize)
        {
            throw new InvalidDataException($"the config of {manifest} is over {ImageResolver.MaxConfigSize} bytes");
        }

        byte[] configBytes = await store.Blobs.ReadAllBytesAsync(BlobAddress.For(image.Repository, imageManifest.Config), ImageResolver.MaxConfigSize, cancellationToken).ConfigureAwait(false);
        ImageConfig config = OciJson.Deserialize<ImageConfig>(configBytes, "image config");
        IReadOnlyList<Digest> diffIds = config.Rootfs?.DiffIds ?? [];
        if (diffIds.Count == 0 || diffIds.Count > maxLayers)
        {
            throw new InvalidDataException($"the config of {manifest} lists {diffIds.Count} layers (1 to {maxLayers} are served)");
        }

        return new RemoteImageManifest(image, manifest, imageManifest, diffIds, ChainIdsOf(diffIds));
    }

    /// <summary>The chain IDs of layers with <paramref name="diffIds"/>, lowest first.</summary>
    public static IReadOnlyList<string> ChainIdsOf(IReadOnlyList<Digest> diffIds)
    {
        var chain = new string[diffIds.Count];
        for (int i = 0; i < diffIds.Count; i++)
        {
            chain[i] = i == 0
                ? diffIds[0].ToString()
                : Digest.Compute(System.Text.Encoding.UTF8.GetBytes(chain[i - 1] + " " + diffIds[i])).ToString();
        }

        return chain;
    }
}
