using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text.Json;
using Accelerator.Oci.Layers;
using Accelerator.Oci.Model;
using Accelerator.Snapshots.Archive;
using Accelerator.Snapshots.Interop;
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
    private const int MaxHeaderSize = 1 << 20;
    private const int MaxArchiveLayers = 256;

    /// <summary>
    /// Writes the snapshot of <paramref name="manifestDigest"/> to <paramref name="destination"/> as one blob: a tar
    /// whose first entry, <c>snapshot.json</c>, names the image, its layers' chain and diff IDs and the digest and size
    /// of each layer's archive, followed by <c>layers/0.tar</c>… (each layer's tree as a pax tar, lowest first).
    /// </summary>
    /// <returns>The blob's descriptor (digest and size of what was written).</returns>
    /// <exception cref="SnapshotNotFoundException">There is no valid snapshot of <paramref name="manifestDigest"/>.</exception>
    public async Task<Descriptor> ExportAsync(Digest manifestDigest, Stream destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var record = TryLoadImage(manifestDigest) ?? throw new SnapshotNotFoundException($"No snapshot of {manifestDigest} is in {Root}.");
        using var staging = await CreateStagingAsync(record.ChainIds.Select(Digest.Parse), cancellationToken).ConfigureAwait(false);
        if (record.Kind == SnapshotKinds.BlockStack)
        {
            return await ExportBlockAsync(record, staging, destination, cancellationToken).ConfigureAwait(false);
        }

        var layers = new List<SnapshotArchiveLayer>();
        for (int i = 0; i < record.ChainIds.Count; i++)
        {
            string file = Path.Combine(staging.Path, $"{i}.tar");
            await using (var output = new FileStream(file, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16))
            {
                await TreeTarWriter.WriteAsync(LayerTree(Digest.Parse(record.ChainIds[i])), output, cancellationToken).ConfigureAwait(false);
                output.Position = 0;
                var digest = await Digest.ComputeAsync(output, cancellationToken).ConfigureAwait(false);
                layers.Add(new SnapshotArchiveLayer { ChainId = record.ChainIds[i], DiffId = record.DiffIds[i], TarDigest = digest.ToString(), TarSize = output.Length });
            }
        }

        var header = new SnapshotArchiveHeader { ManifestDigest = record.ManifestDigest, References = record.References, Layers = layers };
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var counting = new HashingWriteStream(destination, hash);
        await using (var writer = new TarWriter(counting, TarEntryFormat.Pax, leaveOpen: true))
        {
            byte[] json = JsonSerializer.SerializeToUtf8Bytes(header, RecordJson.Default.SnapshotArchiveHeader);
            await writer.WriteEntryAsync(new PaxTarEntry(TarEntryType.RegularFile, HeaderEntry) { DataStream = new MemoryStream(json) }, cancellationToken).ConfigureAwait(false);
            for (int i = 0; i < layers.Count; i++)
            {
                await using var data = new FileStream(Path.Combine(staging.Path, $"{i}.tar"), FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
                await writer.WriteEntryAsync(new PaxTarEntry(TarEntryType.RegularFile, $"layers/{i}.tar") { DataStream = data }, cancellationToken).ConfigureAwait(false);
            }
        }

        await counting.FlushAsync(cancellationToken).ConfigureAwait(false);
        return new Descriptor(ArchiveMediaType, Digest.FromHash(Digest.Sha256, hash.GetHashAndReset()), counting.Written);
    }

    /// <summary>
    /// Imports a snapshot written by <see cref="ExportAsync"/>: checks the header (chain IDs must follow from the diff
    /// IDs), unpacks the layers the store lacks (each archive verified against the digest and size in the header before
    /// it is published) and publishes the snapshot. Layers the store has are skipped. Import only from sources you trust
    /// as much as the registry: the layer trees are not re-derived from the image's layers.
    /// </summary>
    /// <exception cref="InvalidDataException">The archive is malformed or does not match its header.</exception>
    /// <exception cref="DigestMismatchException">A layer archive does not match its digest.</exception>
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
        if (header.Block is { } block)
        {
            return await ImportBlockAsync(header, block, reader, cancellationToken).ConfigureAwait(false);
        }

        var chain = header.Layers.Select(l => Digest.Parse(l.ChainId)).ToArray();
        using var imageLock = await FileLock.AcquireAsync(ImageLockPath(manifestDigest), cancellationToken).ConfigureAwait(false);
        using var staging = await CreateStagingAsync(chain, cancellationToken).ConfigureAwait(false);
        for (int i = 0; i < header.Layers.Count; i++)
        {
            TarEntry? entry;
            try
            {
                entry = await reader.GetNextEntryAsync(copyData: false, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is FormatException or EndOfStreamException)
            {
                throw new InvalidDataException($"The snapshot archive is malformed at layer {i}: {ex.Message}", ex);
            }

            var layer = header.Layers[i];
            if (entry is null || entry.Name != $"layers/{i}.tar" || entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile)
                || entry.Length != layer.TarSize || entry.DataStream is null)
            {
                throw new InvalidDataException($"The snapshot archive does not hold layers/{i}.tar of {layer.TarSize} bytes where its header says.");
            }

            using (await FileLock.AcquireAsync(LayerLockPath(chain[i]), cancellationToken).ConfigureAwait(false))
            {
                if (TryLoadLayer(chain[i]) is not null)
                {
                    continue;
                }

                string layerDirectory = Directory.CreateDirectory(Path.Combine(staging.Path, $"layer-{i}")).FullName;
                string tree = Directory.CreateDirectory(Path.Combine(layerDirectory, "fs")).FullName;
                var options = new LayerApplyOptions { MaxUncompressedBytes = _options.MaxUncompressedLayerBytes, MaxEntries = _options.MaxEntriesPerLayer };
                await using (var verifying = new VerifyingStream(entry.DataStream, Digest.Parse(layer.TarDigest), layer.TarSize, $"layers/{i}.tar of the snapshot archive", leaveOpen: true))
                {
                    await LayerApplier.ApplyAsync(verifying, LayerCompression.None, tree, options, cancellationToken).ConfigureAwait(false);
                    await verifying.CopyToAsync(Stream.Null, cancellationToken).ConfigureAwait(false);
                }

                PublishLayer(layerDirectory, new LayerRecord
                {
                    ChainId = layer.ChainId,
                    Parent = i == 0 ? null : header.Layers[i - 1].ChainId,
                    DiffId = layer.DiffId,
                    SizeBytes = DiskUsage(tree),
                    Created = _time.GetUtcNow(),
                });
            }
        }

        var record = new ImageRecord
        {
            ManifestDigest = header.ManifestDigest,
            References = header.References,
            ChainIds = header.Layers.Select(l => l.ChainId).ToArray(),
            DiffIds = header.Layers.Select(l => l.DiffId).ToArray(),
            Created = _time.GetUtcNow(),
        };
        using (await LockStoreAsync(cancellationToken).ConfigureAwait(false))
        {
            WriteImageRecord(record);
            Touch(manifestDigest);
        }

        await PruneAsync(keep: manifestDigest, cancellationToken).ConfigureAwait(false);
        return Describe(record, LiveMounts());
    }

    /// <summary>
    /// Exports the snapshot of <paramref name="manifestDigest"/> and pushes it to <paramref name="destination"/> as an
    /// OCI artifact (artifact type <see cref="ArtifactType"/>, the empty config, the archive as its one layer), so other
    /// nodes pull it through their mirrors and peers like any blob.
    /// </summary>
    /// <returns>The pushed manifest's descriptor.</returns>
    public async Task<Descriptor> PushAsync(Digest manifestDigest, IImageStore target, ImageReference destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(destination);
        using var staging = await CreateStagingAsync([], cancellationToken).ConfigureAwait(false);
        string file = Path.Combine(staging.Path, "snapshot.tar");
        Descriptor blob;
        await using (var output = new FileStream(file, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
        {
            blob = await ExportAsync(manifestDigest, output, cancellationToken).ConfigureAwait(false);
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
        if (header.Version != 1 || header.Kind is not (SnapshotKinds.OverlayTree or SnapshotKinds.BlockStack))
        {
            throw new FormatException($"version {header.Version} of kind '{header.Kind}' is not supported.");
        }

        if (header.Kind == SnapshotKinds.BlockStack)
        {
            return ReadBlockHeader(header);
        }

        if (!Digest.TryParse(header.ManifestDigest, out _) || header.Layers is null || header.Layers.Count is 0 or > MaxArchiveLayers)
        {
            throw new FormatException($"the header needs a manifest digest and 1 to {MaxArchiveLayers} layers.");
        }

        // The chain IDs must follow from the diff IDs: the store keys layers by them.
        var diffIds = new List<Digest>();
        foreach (var layer in header.Layers)
        {
            if (layer is null || !Digest.TryParse(layer.DiffId, out var diffId) || !Digest.TryParse(layer.TarDigest, out _)
                || !Digest.TryParse(layer.ChainId, out _) || layer.TarSize < 1024)
            {
                throw new FormatException("a layer entry of the header is incomplete.");
            }

            diffIds.Add(diffId);
        }

        var chain = ChainId.Compute(diffIds);
        for (int i = 0; i < chain.Count; i++)
        {
            if (chain[i].ToString() != header.Layers[i].ChainId)
            {
                throw new FormatException($"the chain ID of layer {i} does not follow from the diff IDs.");
            }
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
