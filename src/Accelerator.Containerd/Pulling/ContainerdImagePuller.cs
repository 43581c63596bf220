using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Accelerator.Containerd.Api.Diff;
using Accelerator.Containerd.Api.Images;
using Accelerator.Containerd.Api.Leases;
using Accelerator.Containerd.Api.Snapshots;
using Accelerator.Oci.Model;
using Accelerator.Oci.Resolution;
using Accelerator.Oci.Validation;
using Grpc.Core;
using ContentClient = Accelerator.Containerd.Api.Content.Content.ContentClient;
using DiffClient = Accelerator.Containerd.Api.Diff.Diff.DiffClient;
using ImagesClient = Accelerator.Containerd.Api.Images.Images.ImagesClient;
using LeasesClient = Accelerator.Containerd.Api.Leases.Leases.LeasesClient;
using SnapshotsClient = Accelerator.Containerd.Api.Snapshots.Snapshots.SnapshotsClient;

namespace Accelerator.Containerd.Pulling;

/// <summary>
/// Pulls an image into containerd through its API, the way containerd's own unpacker does, but sending the labels a
/// remote snapshotter needs (those the CRI plugin sends; <c>ctr image pull</c> sends none) and fetching a layer only
/// when the snapshotter does not already serve it. Under a lease: the index, manifest and config go into containerd's
/// content store (verified, with the <c>containerd.io/gc.ref.content.*</c> labels that keep their children); then,
/// lowest layer first, <c>Prepare</c> of <c>extract-… CHAINID</c> with the layer's labels — AlreadyExists means the
/// snapshotter has the layer (nothing is fetched), otherwise the blob is fetched into the content store, applied by
/// containerd's diff service onto the returned mounts, checked against the config's diff ID and committed as the chain
/// ID. Last, the config blob is labelled as unpacked for the snapshotter and the image record is created or updated.
/// A failure removes the layer's extract snapshot and creates no image record; the lease's deletion lets containerd
/// collect what the pull wrote.
/// </summary>
public sealed partial class ContainerdImagePuller
{
    // containerd's unpacker tries three extract keys before it gives up on a layer (unpacker.go).
    private const int PrepareAttempts = 3;

    private readonly ContentClient _content;
    private readonly SnapshotsClient _snapshots;
    private readonly DiffClient _diff;
    private readonly ImagesClient _images;
    private readonly LeasesClient _leases;
    private readonly ContainerdPullOptions _options;

    /// <summary>Creates a puller that talks to containerd over <paramref name="callInvoker"/> (e.g. <see cref="ContainerdChannel.ForUnixSocket"/>'s channel).</summary>
    /// <exception cref="ArgumentException"><paramref name="options"/> are invalid.</exception>
    public ContainerdImagePuller(CallInvoker callInvoker, ContainerdPullOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(callInvoker);
        _options = options ?? new ContainerdPullOptions();
        new ContainerdPullOptionsValidator().ThrowIfInvalid(_options, "containerd pull");
        _content = new ContentClient(callInvoker);
        _snapshots = new SnapshotsClient(callInvoker);
        _diff = new DiffClient(callInvoker);
        _images = new ImagesClient(callInvoker);
        _leases = new LeasesClient(callInvoker);
    }

    /// <summary>
    /// Pulls <paramref name="image"/> (a registry reference) from <paramref name="store"/> into containerd and names the
    /// image record after it.
    /// </summary>
    /// <exception cref="NotSupportedException">
    /// The image is an accelerated variant (its layers are no tar layers containerd can unpack) and the snapshotter
    /// does not serve every layer itself.
    /// </exception>
    /// <exception cref="ContainerdException">A containerd call failed.</exception>
    public async Task<ContainerdPullResult> PullAsync(IImageStore store, ImageReference image, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(image);
        if (image.Kind != ImageReferenceKind.Registry)
        {
            throw new ArgumentException($"{image} is not a registry reference; containerd names images by registry references.", nameof(image));
        }

        long started = _options.TimeProvider.GetTimestamp();
        var resolved = await ImageResolver.ResolveAsync(store, image, _options.Platform, cancellationToken).ConfigureAwait(false);
        var (diffIds, variant) = CheckUnpackable(resolved);
        var chainIds = ChainIds(diffIds);

        string lease = await CreateLeaseAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var pull = new Pull(store, resolved, diffIds, chainIds, variant, ContainerdChannel.Headers(_options.Namespace, lease), lease);
            await WriteManifestsAsync(pull, cancellationToken).ConfigureAwait(false);
            var layers = new List<ContainerdPulledLayer>(diffIds.Count);
            for (int i = 0; i < diffIds.Count; i++)
            {
                var layer = await UnpackLayerAsync(pull, i, cancellationToken).ConfigureAwait(false);
                layers.Add(layer);
                _options.Progress?.Report(layer);
            }

            // What marks the image unpacked for this snapshotter (containerd's Image.IsUnpacked stats the top chain ID;
            // the unpacker sets this label) and keeps the top snapshot, and with it its parents, from GC.
            await UpdateLabelsAsync(
                pull,
                resolved.ImageManifest.Config.Digest,
                new Dictionary<string, string>(StringComparer.Ordinal) { [ContainerdLabels.GcSnapshotPrefix + _options.Snapshotter] = chainIds[^1] },
                cancellationToken).ConfigureAwait(false);
            await SetImageAsync(pull, cancellationToken).ConfigureAwait(false);
            return new ContainerdPullResult(
                image, resolved.Root.Digest, resolved.Manifest.Digest, chainIds[^1], layers, _options.TimeProvider.GetElapsedTime(started));
        }
        finally
        {
            await DeleteLeaseAsync(lease).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The chain IDs of <paramref name="diffIds"/> (lowest first): the first layer's diff ID, then
    /// sha256(parent chain ID + " " + diff ID) (OCI image-spec config.md, "Layer ChainID").
    /// </summary>
    public static IReadOnlyList<string> ChainIds(IReadOnlyList<Digest> diffIds)
    {
        ArgumentNullException.ThrowIfNull(diffIds);
        var chain = new List<string>(diffIds.Count);
        foreach (var diffId in diffIds)
        {
            chain.Add(chain.Count == 0
                ? diffId.ToString()
                : Digest.Compute(Encoding.ASCII.GetBytes(chain[^1] + " " + diffId)).ToString());
        }

        return chain;
    }

    // The diff IDs to unpack, and whether the image is an accelerated variant (lazy, block): its config is the source
    // image's, so its diff IDs name the source's layers, but its own layers are no tar layers containerd could apply —
    // only a snapshotter that serves the variant itself (a remote snapshot for every layer) can take it.
    private static (IReadOnlyList<Digest> DiffIds, bool Variant) CheckUnpackable(ResolvedImage resolved)
    {
        var layers = resolved.Layers;
        var diffIds = resolved.Config.Rootfs?.DiffIds;
        if (diffIds is null || diffIds.Count == 0)
        {
            throw new FormatException($"{resolved.Image} has no layers (its config lists no diff IDs).");
        }

        bool variant = layers.Any(l => !MediaTypes.IsLayer(l.MediaType));
        if (!variant && diffIds.Count != layers.Count)
        {
            throw new FormatException($"{resolved.Image}: its config lists {diffIds.Count} diff IDs for {layers.Count} layers.");
        }

        if (resolved.Root.Index is { } index && !index.Manifests.Any(m => m.Digest == resolved.Manifest.Digest))
        {
            throw new NotSupportedException($"{resolved.Image} nests image indexes; containerd pulls of nested indexes are not supported.");
        }

        return (diffIds, variant);
    }

    // Unpacks layer i, as containerd's unpacker does (unpacker.go), with the labels a remote snapshotter needs.
    private async Task<ContainerdPulledLayer> UnpackLayerAsync(Pull pull, int i, CancellationToken cancellationToken)
    {
        Descriptor? layer = pull.Variant ? null : pull.Image.Layers[i];
        string chainId = pull.ChainIds[i];
        string name = $"layer {i + 1} ({layer?.Digest ?? pull.DiffIds[i]})";
        ContainerdPulledLayer Done(ContainerdLayerOutcome outcome, long fetched) => new(i, layer?.Digest, pull.DiffIds[i], chainId, outcome, fetched);

        if (await SnapshotExistsAsync(pull, chainId, cancellationToken).ConfigureAwait(false))
        {
            return Done(ContainerdLayerOutcome.Present, 0);
        }

        var labels = LayerLabels(pull, i);
        string key = string.Empty;
        Google.Protobuf.Collections.RepeatedField<Api.Types.Mount>? mounts = null;
        for (int attempt = 1; attempt <= PrepareAttempts && mounts is null; attempt++)
        {
            key = $"extract-{UniquePart()} {chainId}";
            var request = new PrepareSnapshotRequest { Snapshotter = _options.Snapshotter, Key = key, Parent = i == 0 ? string.Empty : pull.ChainIds[i - 1] };
            request.Labels.Add(labels);
            try
            {
                mounts = (await _snapshots.PrepareAsync(request, pull.Headers, cancellationToken: cancellationToken).ConfigureAwait(false)).Mounts;
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.AlreadyExists)
            {
                // The snapshotter serves this layer itself (a remote snapshot) — or another pull is committing it.
                if (await SnapshotExistsAsync(pull, chainId, cancellationToken).ConfigureAwait(false))
                {
                    return Done(ContainerdLayerOutcome.Remote, 0);
                }
            }
            catch (RpcException ex)
            {
                throw new ContainerdException($"prepare of {name} in snapshotter {_options.Snapshotter}", ex);
            }
        }

        if (mounts is null)
        {
            throw new IOException($"containerd answered AlreadyExists for {name} {PrepareAttempts} times, yet has no snapshot {chainId}.");
        }

        if (layer is null)
        {
            await RemoveQuietlyAsync(pull, key).ConfigureAwait(false);
            throw new NotSupportedException(
                $"{pull.Image.Image} is an accelerated variant whose layers containerd cannot unpack, and snapshotter {_options.Snapshotter} " +
                $"does not serve {name} itself; pull the image it was converted from, or use the accel snapshotter.");
        }

        bool committed = false;
        try
        {
            long fetched = await EnsureBlobAsync(
                pull,
                layer,
                ct => pull.Store.Blobs.OpenReadAsync(BlobAddress.For(pull.Image.Image.Repository, layer), ct),
                labels: null,
                cancellationToken).ConfigureAwait(false);
            var apply = new ApplyRequest { Diff = ToContainerd(layer) };
            apply.Mounts.Add(mounts);
            ApplyResponse applied;
            try
            {
                applied = await _diff.ApplyAsync(apply, pull.Headers, cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            catch (RpcException ex)
            {
                throw new ContainerdException($"apply of {name}", ex);
            }

            if (applied.Applied?.Digest != pull.DiffIds[i].ToString())
            {
                throw new InvalidDataException(
                    $"{name} unpacked to {applied.Applied?.Digest}, but the config's diff ID is {pull.DiffIds[i]}.");
            }

            var commit = new CommitSnapshotRequest { Snapshotter = _options.Snapshotter, Name = chainId, Key = key };
            commit.Labels.Add(labels);
            try
            {
                await _snapshots.CommitAsync(commit, pull.Headers, cancellationToken: cancellationToken).ConfigureAwait(false);
                committed = true;
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.AlreadyExists)
            {
                // Another pull committed the same layer first; its snapshot is as good as ours.
                return Done(ContainerdLayerOutcome.Present, fetched);
            }
            catch (RpcException ex)
            {
                throw new ContainerdException($"commit of {name} as {chainId}", ex);
            }

            await UpdateLabelsAsync(
                pull,
                layer.Digest,
                new Dictionary<string, string>(StringComparer.Ordinal) { [ContainerdLabels.Uncompressed] = pull.DiffIds[i].ToString() },
                cancellationToken).ConfigureAwait(false);
            return Done(ContainerdLayerOutcome.Applied, fetched);
        }
        finally
        {
            if (!committed)
            {
                await RemoveQuietlyAsync(pull, key).ConfigureAwait(false);
            }
        }
    }

    // The labels containerd's unpacker puts on a layer's snapshot when the CRI plugin pulls (snapshot.ref plus the
    // containerd.io/snapshot/cri.* labels of pkg/snapshotters/annotations.go). An accelerated variant's layers are not
    // the source's, so its snapshots name the image and manifest only.
    private static Dictionary<string, string> LayerLabels(Pull pull, int i)
    {
        var layers = pull.Image.Layers;
        var labels = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [ContainerdLabels.SnapshotRef] = pull.ChainIds[i],
            [ContainerdLabels.CriImageRef] = pull.Image.Image.ToString(),
            [ContainerdLabels.CriManifestDigest] = pull.Image.Manifest.Digest.ToString(),
        };
        if (pull.Variant)
        {
            return labels;
        }

        labels[ContainerdLabels.CriLayerDigest] = layers[i].Digest.ToString();

        // This layer and the ones above it, as many as fit in one label.
        var list = new StringBuilder();
        int budget = ContainerdLabels.MaxLabelBytes - ContainerdLabels.CriImageLayers.Length;
        for (int j = i; j < layers.Count; j++)
        {
            string item = (list.Length == 0 ? "" : ",") + layers[j].Digest;
            if (list.Length + item.Length > budget)
            {
                break;
            }

            list.Append(item);
        }

        labels[ContainerdLabels.CriImageLayers] = list.ToString();
        return labels;
    }

    private async Task SetImageAsync(Pull pull, CancellationToken cancellationToken)
    {
        var record = new Image { Name = pull.Image.Image.ToString(), Target = ToContainerd(pull.Image.Root.Descriptor) };
        try
        {
            await _images.CreateAsync(new CreateImageRequest { Image = record }, pull.Headers, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.AlreadyExists)
        {
            var update = new UpdateImageRequest { Image = record, UpdateMask = new Google.Protobuf.WellKnownTypes.FieldMask() };
            update.UpdateMask.Paths.Add("target");
            try
            {
                await _images.UpdateAsync(update, pull.Headers, cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            catch (RpcException inner)
            {
                throw new ContainerdException($"update of image {record.Name}", inner);
            }
        }
        catch (RpcException ex)
        {
            throw new ContainerdException($"creation of image {record.Name}", ex);
        }
    }

    private async Task<bool> SnapshotExistsAsync(Pull pull, string name, CancellationToken cancellationToken)
    {
        try
        {
            await _snapshots.StatAsync(
                new StatSnapshotRequest { Snapshotter = _options.Snapshotter, Key = name }, pull.Headers, cancellationToken: cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.NotFound)
        {
            return false;
        }
        catch (RpcException ex)
        {
            throw new ContainerdException($"stat of snapshot {name} in snapshotter {_options.Snapshotter}", ex);
        }
    }

    private async Task RemoveQuietlyAsync(Pull pull, string key)
    {
        try
        {
            await _snapshots.RemoveAsync(new RemoveSnapshotRequest { Snapshotter = _options.Snapshotter, Key = key }, pull.Headers).ConfigureAwait(false);
        }
        catch (RpcException)
        {
            // The lease still holds it; containerd collects it once the lease is deleted.
        }
    }

    private async Task<string> CreateLeaseAsync(CancellationToken cancellationToken)
    {
        var now = _options.TimeProvider.GetUtcNow();
        var request = new CreateRequest { Id = $"accel-pull-{now.ToUnixTimeMilliseconds()}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}" };
        request.Labels.Add(ContainerdLabels.GcExpire, now.Add(_options.LeaseExpiry).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
        try
        {
            var created = await _leases.CreateAsync(request, ContainerdChannel.Headers(_options.Namespace), cancellationToken: cancellationToken).ConfigureAwait(false);
            return created.Lease.Id;
        }
        catch (RpcException ex)
        {
            throw new ContainerdException("lease creation", ex);
        }
    }

    private async Task DeleteLeaseAsync(string lease)
    {
        try
        {
            await _leases.DeleteAsync(new DeleteRequest { Id = lease }, ContainerdChannel.Headers(_options.Namespace)).ConfigureAwait(false);
        }
        catch (RpcException)
        {
            // The lease expires by itself (containerd.io/gc.expire).
        }
    }

    private static Api.Types.ContentDescriptor ToContainerd(Descriptor descriptor)
        => new() { MediaType = descriptor.MediaType, Digest = descriptor.Digest.ToString(), Size = descriptor.Size };

    // Like containerd's extract keys: time and randomness, so keys of concurrent pulls differ.
    private string UniquePart()
        => $"{_options.TimeProvider.GetUtcNow().Ticks % 1_000_000_000}-{Convert.ToBase64String(RandomNumberGenerator.GetBytes(3)).Replace('+', '-').Replace('/', '_')}";

    /// <summary>One pull's state: where blobs come from, what was resolved, and the call headers (namespace, lease).</summary>
    private sealed record Pull(
        IImageStore Store, ResolvedImage Image, IReadOnlyList<Digest> DiffIds, IReadOnlyList<string> ChainIds, bool Variant, Metadata Headers, string Lease);
}
