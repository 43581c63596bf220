using System.Formats.Tar;
using System.Text.Json;
using Accelerator.Block.Format;
using Accelerator.Oci.Layout;
using Accelerator.Oci.Model;
using Accelerator.Oci.Resolution;
using Accelerator.Snapshots.Catalog;
using Accelerator.Snapshots.Storage;
using Accelerator.Snapshots.Warming;
using static Accelerator.Snapshots.Archive.SnapshotArchiveFormat;

namespace Accelerator.Snapshots.Archive;

/// <summary>
/// Exports snapshots as one archive blob (and pushes and pulls them as OCI artifacts), and imports them without
/// trusting them: a tree snapshot's layers are checked against the image's digests and rebuilt here as a warm builds
/// them; a block-stack snapshot goes to <see cref="BlockSnapshotArchiver"/>.
/// </summary>
internal sealed class SnapshotArchiver(SnapshotCatalog catalog, TreeSnapshotWarmer trees, BlockSnapshotArchiver blocks)
{
    /// <summary>Writes the snapshot archive (see <see cref="SnapshotStore.ExportAsync"/>); a block-stack snapshot through the block archiver.</summary>
    public async Task<Descriptor> ExportAsync(Digest manifestDigest, Stream destination, IImageStore? source, ImageReference? image, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var record = catalog.TryLoadImage(manifestDigest) ?? throw new SnapshotNotFoundException($"No snapshot of {manifestDigest} is in {catalog.Root}.");
        using var staging = await catalog.CreateStagingAsync(record.ChainIds.Select(Digest.Parse), cancellationToken).ConfigureAwait(false);
        if (record.Kind == SnapshotKinds.BlockStack)
        {
            return await blocks.ExportAsync(record, staging, destination, cancellationToken).ConfigureAwait(false);
        }

        if (source is null)
        {
            throw new InvalidOperationException($"Exporting the tree snapshot of {manifestDigest} needs the image's layers: give the registry or layout that holds it.");
        }

        var reference = (image ?? ExportReference(record)).WithDigest(manifestDigest);
        var resolved = await ImageResolver.ResolveAsync(source, reference, null, cancellationToken).ConfigureAwait(false);
        if (resolved.Manifest.Digest != manifestDigest)
        {
            throw new InvalidOperationException($"{reference} resolves to {resolved.Manifest.Digest}, not to the snapshot's manifest {manifestDigest}.");
        }

        var files = new List<string>();
        for (int i = 0; i < resolved.Layers.Count; i++)
        {
            var layer = resolved.Layers[i];
            string file = Path.Combine(staging.Path, $"{i}.blob");
            await using (var input = await source.Blobs.OpenReadAsync(BlobAddress.For(reference.Repository, layer), cancellationToken).ConfigureAwait(false))
            await using (var verifying = new VerifyingStream(input, layer.Digest, layer.Size, $"layer {i} of {reference}", leaveOpen: true))
            await using (var output = new FileStream(file, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                await verifying.CopyToAsync(output, cancellationToken).ConfigureAwait(false);
            }

            files.Add(file);
        }

        var header = new SnapshotArchiveHeader { ManifestDigest = record.ManifestDigest, References = record.References };
        return await WriteArchiveAsync(destination, header, resolved.Manifest.Bytes, resolved.ConfigBytes, async writer =>
        {
            for (int i = 0; i < files.Count; i++)
            {
                await using var data = new FileStream(files[i], FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
                await writer.WriteEntryAsync(new PaxTarEntry(TarEntryType.RegularFile, $"layers/{i}") { DataStream = data }, cancellationToken).ConfigureAwait(false);
            }
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Imports a snapshot archive without trusting it (see <see cref="SnapshotStore.ImportAsync"/>).</summary>
    public async Task<SnapshotInfo> ImportAsync(Stream source, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        await using var reader = new TarReader(source, leaveOpen: true);
        SnapshotArchiveHeader header;
        try
        {
            var first = await reader.GetNextEntryAsync(copyData: false, cancellationToken).ConfigureAwait(false);
            header = ReadHeader(first);
        }
        catch (Exception ex) when (ex is FormatException or EndOfStreamException or JsonException or ArgumentException)
        {
            throw new InvalidDataException($"Not a snapshot archive: {ex.Message}", ex);
        }

        Digest manifestDigest = Digest.Parse(header.ManifestDigest);
        using var staging = await catalog.CreateStagingAsync([], cancellationToken).ConfigureAwait(false);
        var image = await ReadVerifiedImageAsync(reader, manifestDigest, staging, cancellationToken).ConfigureAwait(false);
        string[] references = VerifiedReferences(header.References, manifestDigest);
        if (header.Block is { } block)
        {
            return await blocks.ImportAsync(header, block, image, references, reader, staging, cancellationToken).ConfigureAwait(false);
        }

        if (catalog.TryLoadImage(manifestDigest) is { Kind: not SnapshotKinds.OverlayTree })
        {
            throw new InvalidOperationException($"A block-stack snapshot of {manifestDigest} is in {catalog.Root}; evict it before importing a tree snapshot of it.");
        }

        if (image.Key is null)
        {
            throw new InvalidDataException($"The snapshot archive claims a tree snapshot of {manifestDigest}, a block image.");
        }

        // Every layer blob is checked against the manifest's digest and size as it is staged; the warm then checks each
        // uncompressed layer against the config's diff ID before it publishes anything built from it.
        var layers = image.Key.Resolved.Layers;
        for (int i = 0; i < layers.Count; i++)
        {
            var entry = await NextEntryAsync(reader, $"layers/{i}", layers[i].Size, cancellationToken).ConfigureAwait(false);
            try
            {
                await image.Layout.PushBlobAsync(layers[i], entry.DataStream!, cancellationToken).ConfigureAwait(false);
            }
            catch (DigestMismatchException ex)
            {
                throw new InvalidDataException($"layers/{i} of the snapshot archive is not layer {layers[i].Digest} of {manifestDigest}.", ex);
            }
        }

        var warmed = await trees.RunWarmAsync(image.Layout, image.Key, cancellationToken, references).ConfigureAwait(false);
        return warmed.Snapshot;
    }

    /// <summary>The image an archive is of, staged as an OCI layout whose manifest and config passed their digests.</summary>

    // image/manifest.json must hash to the digest the header claims (the key the store will publish under) and
    // image/config.json to the manifest's config descriptor; the layout's resolver checks the latter again and reads
    // the diff IDs from the verified config.
    public static async Task<VerifiedImage> ReadVerifiedImageAsync(TarReader reader, Digest manifestDigest, Staging staging, CancellationToken cancellationToken)
    {
        var manifestEntry = await NextEntryAsync(reader, ManifestEntry, null, ManifestDocument.MaxSize, cancellationToken).ConfigureAwait(false);
        byte[] manifestBytes = new byte[manifestEntry.Length];
        await manifestEntry.DataStream!.ReadExactlyAsync(manifestBytes, cancellationToken).ConfigureAwait(false);
        if (Digest.Compute(manifestBytes) != manifestDigest)
        {
            throw new InvalidDataException($"{ManifestEntry} of the snapshot archive hashes to {Digest.Compute(manifestBytes)}, not to the manifest digest {manifestDigest} it claims.");
        }

        ManifestDocument manifest;
        try
        {
            manifest = ManifestDocument.Parse(manifestBytes, expected: manifestDigest);
        }
        catch (FormatException ex)
        {
            throw new InvalidDataException($"image/manifest.json of the snapshot archive is not a manifest: {ex.Message}", ex);
        }

        if (manifest.Manifest is not { } imageManifest)
        {
            throw new InvalidDataException("image/manifest.json of the snapshot archive is an index, not an image manifest.");
        }

        var configEntry = await NextEntryAsync(reader, ConfigEntry, imageManifest.Config.Size, cancellationToken).ConfigureAwait(false);
        string directory = Directory.CreateDirectory(Path.Combine(staging.Path, "image")).FullName;
        var layout = OciImageLayout.Create(directory);
        try
        {
            await layout.PushBlobAsync(imageManifest.Config, configEntry.DataStream!, cancellationToken).ConfigureAwait(false);
        }
        catch (DigestMismatchException ex)
        {
            throw new InvalidDataException($"{ConfigEntry} of the snapshot archive is not the config {imageManifest.Config.Digest} of {manifestDigest}.", ex);
        }

        await layout.PushManifestAsync(manifest, "snapshot", cancellationToken).ConfigureAwait(false);
        var reference = ImageReference.Parse($"oci:{directory}:snapshot");
        var resolved = await ImageResolver.ResolveAsync(layout, reference, null, cancellationToken).ConfigureAwait(false);
        if (resolved.Manifest.Digest != manifestDigest)
        {
            throw new InvalidDataException($"The snapshot archive's manifest resolves to {resolved.Manifest.Digest}, not {manifestDigest}.");
        }

        ImageKey? key = null;
        if (!BlockImage.IsBlockManifest(imageManifest))
        {
            try
            {
                key = await SnapshotCatalog.ResolveAsync(layout, reference, null, cancellationToken).ConfigureAwait(false);
            }
            catch (NotSupportedException ex)
            {
                throw new InvalidDataException($"The snapshot archive's image cannot be a snapshot: {ex.Message}", ex);
            }
        }

        return new VerifiedImage(layout, key!, resolved);
    }

    // Only NAME@DIGEST with the verified manifest digest: tags and index digests in an archive are unverified claims
    // that would make a later mount by that tag (offline, or with tag resolution off) or by that digest use this image.
    private static string[] VerifiedReferences(IReadOnlyList<string> claimed, Digest manifestDigest)
    {
        var verified = new List<string>();
        foreach (string text in claimed)
        {
            if (ImageReference.TryParse(text, out var reference) && reference.Digest == manifestDigest && !verified.Contains(text, StringComparer.Ordinal))
            {
                verified.Add(text);
            }
        }

        return [.. verified];
    }

    private static ImageReference ExportReference(ImageRecord record)
    {
        foreach (string text in record.References)
        {
            if (ImageReference.TryParse(text, out var reference))
            {
                return reference;
            }
        }

        throw new InvalidOperationException($"The snapshot of {record.ManifestDigest} records no image reference to read its layers from; name the image.");
    }

    /// <summary>Exports a snapshot and pushes it as an OCI artifact (see <see cref="SnapshotStore.PushAsync"/>).</summary>
    public async Task<Descriptor> PushAsync(Digest manifestDigest, IImageStore target, ImageReference destination, IImageStore? source, ImageReference? image, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(destination);
        using var staging = await catalog.CreateStagingAsync([], cancellationToken).ConfigureAwait(false);
        string file = Path.Combine(staging.Path, "snapshot.tar");
        Descriptor blob;
        await using (var output = new FileStream(file, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
        {
            blob = await ExportAsync(manifestDigest, output, source, image, cancellationToken).ConfigureAwait(false);
        }

        byte[] empty = "{}"u8.ToArray();
        var config = Descriptor.FromContent(MediaTypes.OciEmpty, empty);
        await target.PushBlobAsync(destination, config, new MemoryStream(empty), cancellationToken).ConfigureAwait(false);
        await using (var input = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan))
        {
            await target.PushBlobAsync(destination, blob, input, cancellationToken).ConfigureAwait(false);
        }

        var manifest = ManifestDocument.From(new ImageManifest
        {
            ArtifactType = SnapshotStore.ArtifactType,
            Config = config,
            Layers = [blob],
            Annotations = new Dictionary<string, string> { [SnapshotStore.SourceManifestAnnotation] = manifestDigest.ToString() },
        });
        await target.PushManifestAsync(destination, manifest, destination.Digest is null ? destination.Tag ?? ImageReference.DefaultTag : null, cancellationToken).ConfigureAwait(false);
        return manifest.Descriptor;
    }

    /// <summary>Pulls a snapshot artifact and imports it (see <see cref="SnapshotStore.PullAsync"/>).</summary>
    public async Task<SnapshotInfo> PullAsync(IImageStore source, ImageReference artifact, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(artifact);
        var document = await source.GetManifestAsync(artifact, cancellationToken).ConfigureAwait(false);
        if (document.Manifest is not { } manifest || manifest.ArtifactType != SnapshotStore.ArtifactType || manifest.Layers is not [{ MediaType: SnapshotStore.ArchiveMediaType } blob])
        {
            throw new InvalidDataException($"{artifact} is not a snapshot artifact (artifact type {SnapshotStore.ArtifactType} with one {SnapshotStore.ArchiveMediaType} layer).");
        }

        await using var stream = await source.Blobs.OpenReadAsync(BlobAddress.For(artifact.Repository, blob), cancellationToken).ConfigureAwait(false);
        await using var verified = new VerifyingStream(stream, blob.Digest, blob.Size, $"{artifact.Name}@{blob.Digest}", leaveOpen: true);
        var snapshot = await ImportAsync(verified, cancellationToken).ConfigureAwait(false);
        await verified.CopyToAsync(Stream.Null, cancellationToken).ConfigureAwait(false);
        return snapshot;
    }
}

/// <summary>The image an archive is of, staged as an OCI layout whose manifest and config passed their digests.</summary>
internal sealed record VerifiedImage(OciImageLayout Layout, ImageKey Key, ResolvedImage Resolved);
