using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text.Json;
using Accelerator.Block.Format;
using Accelerator.Oci.Layers;
using Accelerator.Oci.Layout;
using Accelerator.Oci.Model;
using Accelerator.Oci.Resolution;
using Accelerator.Snapshots.Archive;
using Accelerator.Snapshots.Storage;

namespace Accelerator.Snapshots;

public sealed partial class SnapshotStore
{
    /// <summary>The media type of an exported snapshot blob: a tar of <c>snapshot.json</c> then <c>layers/N.tar</c>.</summary>
    public const string ArchiveMediaType = "application/vnd.accelerator.snapshot.v1.tar";

    /// <summary>The artifact type of the OCI manifest an exported snapshot is pushed under.</summary>
    public const string ArtifactType = "application/vnd.accelerator.snapshot.v1";

    /// <summary>The manifest annotation naming the image manifest a pushed snapshot was made from.</summary>
    public const string SourceManifestAnnotation = "dev.accelerator.snapshot.manifest";

    private const string HeaderEntry = "snapshot.json";
    private const string ManifestEntry = "image/manifest.json";
    private const string ConfigEntry = "image/config.json";
    private const int MaxHeaderSize = 1 << 20;
    private const int MaxArchiveLayers = 256;

    /// <summary>
    /// Writes the snapshot of <paramref name="manifestDigest"/> to <paramref name="destination"/> as one blob, a tar:
    /// <c>snapshot.json</c> (version 2: kind, manifest digest, references), <c>image/manifest.json</c> and
    /// <c>image/config.json</c> (the image's own bytes), then for a tree snapshot <c>layers/0</c>… (each layer blob as the
    /// registry stores it, read through <paramref name="source"/>), or for a block-stack snapshot
    /// <c>block/manifest.json</c> (the block variant's manifest), <c>block/index</c> and <c>block/data</c>. Everything an
    /// importer publishes is bound by digests to the manifest digest: the archive does not vouch for itself.
    /// </summary>
    /// <param name="manifestDigest">The snapshot's manifest digest.</param>
    /// <param name="destination">Where the archive is written.</param>
    /// <param name="source">Where a tree snapshot's layer blobs are read (a registry, mirror set or layout holding the image); not needed for a block-stack snapshot.</param>
    /// <param name="image">The image in <paramref name="source"/> (its digest is replaced by <paramref name="manifestDigest"/>); default: a reference the snapshot was warmed as.</param>
    /// <param name="cancellationToken">Cancels the export.</param>
    /// <returns>The blob's descriptor (digest and size of what was written).</returns>
    /// <exception cref="SnapshotNotFoundException">There is no valid snapshot of <paramref name="manifestDigest"/>.</exception>
    /// <exception cref="InvalidOperationException">A tree snapshot without a <paramref name="source"/>, or a block snapshot made before archives carried its provenance.</exception>
    public async Task<Descriptor> ExportAsync(Digest manifestDigest, Stream destination, IImageStore? source = null, ImageReference? image = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var record = TryLoadImage(manifestDigest) ?? throw new SnapshotNotFoundException($"No snapshot of {manifestDigest} is in {Root}.");
        using var staging = await CreateStagingAsync(record.ChainIds.Select(Digest.Parse), cancellationToken).ConfigureAwait(false);
        if (record.Kind == SnapshotKinds.BlockStack)
        {
            return await ExportBlockAsync(record, staging, destination, cancellationToken).ConfigureAwait(false);
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

    /// <summary>
    /// Imports a snapshot written by <see cref="ExportAsync"/> without trusting it: the manifest must hash to the
    /// manifest digest the header claims, the config to the manifest's config digest; a tree snapshot's layer blobs
    /// must match the manifest's layer digests and, uncompressed, the config's diff IDs (the trees are then built here,
    /// as a warm builds them); a block snapshot's variant manifest must name the manifest as its source, share its
    /// config and list the index, whose every block is checked. Only references pinned to the verified manifest digest
    /// (<c>NAME@DIGEST</c>) are recorded: a tag in an archive is a claim nobody checked. On any mismatch nothing is
    /// published.
    /// </summary>
    /// <exception cref="InvalidDataException">The archive is malformed, of an unverifiable version, or its contents do not match its digests.</exception>
    /// <exception cref="DigestMismatchException">A blob or block does not match its digest.</exception>
    public async Task<SnapshotInfo> ImportAsync(Stream source, CancellationToken cancellationToken = default)
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
        using var staging = await CreateStagingAsync([], cancellationToken).ConfigureAwait(false);
        var image = await ReadVerifiedImageAsync(reader, manifestDigest, staging, cancellationToken).ConfigureAwait(false);
        string[] references = VerifiedReferences(header.References, manifestDigest);
        if (header.Block is { } block)
        {
            return await ImportBlockAsync(header, block, image, references, reader, staging, cancellationToken).ConfigureAwait(false);
        }

        if (TryLoadImage(manifestDigest) is { Kind: not SnapshotKinds.OverlayTree })
        {
            throw new InvalidOperationException($"A block-stack snapshot of {manifestDigest} is in {Root}; evict it before importing a tree snapshot of it.");
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

        var warmed = await RunWarmAsync(image.Layout, image.Key, cancellationToken, references).ConfigureAwait(false);
        return warmed.Snapshot;
    }

    /// <summary>The image an archive is of, staged as an OCI layout whose manifest and config passed their digests.</summary>
    private sealed record VerifiedImage(OciImageLayout Layout, ImageKey Key, ResolvedImage Resolved);

    // image/manifest.json must hash to the digest the header claims (the key the store will publish under) and
    // image/config.json to the manifest's config descriptor; the layout's resolver checks the latter again and reads
    // the diff IDs from the verified config.
    private static async Task<VerifiedImage> ReadVerifiedImageAsync(TarReader reader, Digest manifestDigest, Staging staging, CancellationToken cancellationToken)
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
                key = await ResolveAsync(layout, reference, null, cancellationToken).ConfigureAwait(false);
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

    private static async Task<Descriptor> WriteArchiveAsync(
        Stream destination, SnapshotArchiveHeader header, ReadOnlyMemory<byte> manifest, ReadOnlyMemory<byte> config, Func<TarWriter, Task> writeRest, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var counting = new HashingWriteStream(destination, hash);
        await using (var writer = new TarWriter(counting, TarEntryFormat.Pax, leaveOpen: true))
        {
            byte[] json = JsonSerializer.SerializeToUtf8Bytes(header, RecordJson.Default.SnapshotArchiveHeader);
            await writer.WriteEntryAsync(new PaxTarEntry(TarEntryType.RegularFile, HeaderEntry) { DataStream = new MemoryStream(json) }, cancellationToken).ConfigureAwait(false);
            await writer.WriteEntryAsync(new PaxTarEntry(TarEntryType.RegularFile, ManifestEntry) { DataStream = new MemoryStream(manifest.ToArray()) }, cancellationToken).ConfigureAwait(false);
            await writer.WriteEntryAsync(new PaxTarEntry(TarEntryType.RegularFile, ConfigEntry) { DataStream = new MemoryStream(config.ToArray()) }, cancellationToken).ConfigureAwait(false);
            await writeRest(writer).ConfigureAwait(false);
        }

        await counting.FlushAsync(cancellationToken).ConfigureAwait(false);
        return new Descriptor(ArchiveMediaType, Digest.FromHash(Digest.Sha256, hash.GetHashAndReset()), counting.Written);
    }

    /// <summary>
    /// Exports the snapshot of <paramref name="manifestDigest"/> and pushes it to <paramref name="destination"/> as an
    /// OCI artifact (artifact type <see cref="ArtifactType"/>, the empty config, the archive as its one layer), so other
    /// nodes pull it through their mirrors and peers like any blob.
    /// </summary>
    /// <param name="manifestDigest">The snapshot's manifest digest.</param>
    /// <param name="target">Where to push.</param>
    /// <param name="destination">The artifact reference.</param>
    /// <param name="source">Where a tree snapshot's layer blobs are read (see <see cref="ExportAsync"/>).</param>
    /// <param name="image">The image in <paramref name="source"/>; default: a reference the snapshot was warmed as.</param>
    /// <param name="cancellationToken">Cancels the push.</param>
    /// <returns>The pushed manifest's descriptor.</returns>
    public async Task<Descriptor> PushAsync(Digest manifestDigest, IImageStore target, ImageReference destination, IImageStore? source = null, ImageReference? image = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(destination);
        using var staging = await CreateStagingAsync([], cancellationToken).ConfigureAwait(false);
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
            ArtifactType = ArtifactType,
            Config = config,
            Layers = [blob],
            Annotations = new Dictionary<string, string> { [SourceManifestAnnotation] = manifestDigest.ToString() },
        });
        await target.PushManifestAsync(destination, manifest, destination.Digest is null ? destination.Tag ?? ImageReference.DefaultTag : null, cancellationToken).ConfigureAwait(false);
        return manifest.Descriptor;
    }

    /// <summary>Pulls a snapshot pushed with <see cref="PushAsync"/> from <paramref name="artifact"/> and imports it.</summary>
    /// <exception cref="InvalidDataException">The artifact is not a snapshot.</exception>
    public async Task<SnapshotInfo> PullAsync(IImageStore source, ImageReference artifact, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(artifact);
        var document = await source.GetManifestAsync(artifact, cancellationToken).ConfigureAwait(false);
        if (document.Manifest is not { } manifest || manifest.ArtifactType != ArtifactType || manifest.Layers is not [{ MediaType: ArchiveMediaType } blob])
        {
            throw new InvalidDataException($"{artifact} is not a snapshot artifact (artifact type {ArtifactType} with one {ArchiveMediaType} layer).");
        }

        await using var stream = await source.Blobs.OpenReadAsync(BlobAddress.For(artifact.Repository, blob), cancellationToken).ConfigureAwait(false);
        await using var verified = new VerifyingStream(stream, blob.Digest, blob.Size, $"{artifact.Name}@{blob.Digest}", leaveOpen: true);
        var snapshot = await ImportAsync(verified, cancellationToken).ConfigureAwait(false);
        await verified.CopyToAsync(Stream.Null, cancellationToken).ConfigureAwait(false);
        return snapshot;
    }

    private static SnapshotArchiveHeader ReadHeader(TarEntry? entry)
    {
        if (entry is null || entry.Name != HeaderEntry || entry.DataStream is null || entry.Length is <= 0 or > MaxHeaderSize)
        {
            throw new FormatException($"the first entry must be {HeaderEntry} of at most {MaxHeaderSize} bytes.");
        }

        byte[] json = new byte[entry.Length];
        entry.DataStream.ReadExactly(json);
        var header = JsonSerializer.Deserialize(json, RecordJson.Default.SnapshotArchiveHeader) ?? throw new FormatException("the header is empty.");
        if (header.Version == 1)
        {
            throw new FormatException("version 1 archives carry unverifiable layer trees and are no longer imported; export the snapshot again.");
        }

        if (header.Version != SnapshotArchiveHeader.CurrentVersion || header.Kind is not (SnapshotKinds.OverlayTree or SnapshotKinds.BlockStack))
        {
            throw new FormatException($"version {header.Version} of kind '{header.Kind}' is not supported.");
        }

        if (header.Kind == SnapshotKinds.BlockStack)
        {
            return ReadBlockHeader(header);
        }

        if (!Digest.TryParse(header.ManifestDigest, out _))
        {
            throw new FormatException("the header needs a manifest digest.");
        }

        return header with { References = header.References?.Where(r => r is not null).Take(64).ToArray() ?? [], Block = null };
    }

    /// <summary>Counts and hashes what passes through to <paramref name="inner"/> (left open).</summary>
    private sealed class HashingWriteStream(Stream inner, IncrementalHash hash) : Stream
    {
        public long Written { get; private set; }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => Written;

        public override long Position { get => Written; set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            hash.AppendData(buffer);
            inner.Write(buffer);
            Written += buffer.Length;
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            hash.AppendData(buffer.Span);
            await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
            Written += buffer.Length;
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
            => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush() => inner.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
