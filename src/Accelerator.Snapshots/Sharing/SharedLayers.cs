using System.Text.RegularExpressions;
using Accelerator.Linux;
using Accelerator.Snapshots.Catalog;
using Accelerator.Snapshots.Storage;
using Microsoft.Extensions.Logging;

namespace Accelerator.Snapshots.Sharing;

/// <summary>
/// The store's layers as seen by other holders of chain-id layer directories (the containerd snapshotter): find a valid
/// tree layer, adopt a finished tree under its chain ID, and pin layers so that eviction, prune and recovery never
/// delete what a holder uses. Pins are files (<c>pins/HEX/NAME</c>), so they survive restarts.
/// </summary>
internal sealed partial class SharedLayers(SnapshotCatalog catalog, ILogger logger)
{
    /// <summary>What a pin may be named: a file name of letters, digits, <c>_</c>, <c>.</c> and <c>-</c>, not starting with a dot.</summary>
    public const int MaxPinLength = 128;

    private readonly ILogger _logger = logger;

    /// <summary>The valid tree layer <paramref name="chainId"/>, or null.</summary>
    public SnapshotLayer? Find(Digest chainId)
        => catalog.TryLoadLayer(chainId) is { Kind: LayerKinds.Tree } record ? Describe(chainId, record) : null;

    /// <summary>Pins <paramref name="chainId"/> under <paramref name="pin"/> if it is a valid tree layer; null (no pin) when it is not.</summary>
    public async Task<SnapshotLayer?> PinAsync(Digest chainId, string pin, CancellationToken cancellationToken)
    {
        CheckPin(pin);
        using (await catalog.LockStoreAsync(cancellationToken).ConfigureAwait(false))
        {
            if (Find(chainId) is not { } layer)
            {
                return null;
            }

            WritePin(chainId, pin);
            return layer;
        }
    }

    /// <summary>Removes the pin <paramref name="pin"/> of <paramref name="chainId"/>; false when there was none. The layer stays until a prune finds it unused.</summary>
    public async Task<bool> UnpinAsync(Digest chainId, string pin, CancellationToken cancellationToken)
    {
        CheckPin(pin);
        using (await catalog.LockStoreAsync(cancellationToken).ConfigureAwait(false))
        {
            string directory = catalog.PinPath(chainId);
            string file = Path.Combine(directory, pin);
            if (!File.Exists(file))
            {
                return false;
            }

            File.Delete(file);
            DurableFile.SyncDirectory(directory);
            if (!Directory.EnumerateFileSystemEntries(directory).Any())
            {
                Directory.Delete(directory);
            }

            LogUnpinned(chainId, pin);
            return true;
        }
    }

    /// <summary>
    /// Makes <paramref name="directory"/> the tree of layer <paramref name="chainId"/> (see
    /// <see cref="SnapshotStore.AdoptLayerAsync"/>); pins it under <paramref name="pin"/> when given.
    /// </summary>
    public async Task<SnapshotLayer> AdoptAsync(Digest chainId, Digest? parent, string directory, string? pin, CancellationToken cancellationToken)
    {
        if (pin is not null)
        {
            CheckPin(pin);
        }

        string tree = CheckTree(directory);
        using var layerLock = await FileLock.AcquireAsync(catalog.LayerLockPath(chainId), cancellationToken).ConfigureAwait(false);
        if (Find(chainId) is { } existing)
        {
            if (existing.Parent != parent)
            {
                throw new InvalidOperationException($"The layer {chainId} in the store has parent {existing.Parent?.ToString() ?? "none"}, not {parent?.ToString() ?? "none"}.");
            }

            // The same chain ID is the same content: keep the published tree, drop the new one.
            if (pin is not null)
            {
                existing = await PinAsync(chainId, pin, cancellationToken).ConfigureAwait(false) ?? existing;
            }

            catalog.DeleteTree(tree);
            LogAdoptedExisting(chainId);
            return existing;
        }

        if (parent is { } p && Find(p) is null)
        {
            throw new InvalidOperationException($"The parent {p} of layer {chainId} is not a layer of the store; adopt it first.");
        }

        using var staging = await catalog.CreateStagingAsync(parent is { } q ? [chainId, q] : [chainId], cancellationToken).ConfigureAwait(false);
        string layerDirectory = Directory.CreateDirectory(Path.Combine(staging.Path, LayerAdoption.LayerDirectory)).FullName;
        var record = new LayerRecord
        {
            ChainId = chainId.ToString(),
            Parent = parent?.ToString(),
            DiffId = null,
            Origin = LayerOrigins.Adopted,
            SizeBytes = SnapshotCatalog.DiskUsage(tree),
            Created = catalog.Time.GetUtcNow(),
        };

        if (catalog.Options.Durable)
        {
            // The holder wrote the tree; make it durable before the store vouches for it.
            DurableFile.SyncFileSystem(tree);
        }

        // Where the tree came from, so recovery can give it back if we die between the two renames below.
        DurableFile.WriteAtomic(Path.Combine(staging.Path, LayerAdoption.OriginFile), System.Text.Encoding.UTF8.GetBytes(tree));
        try
        {
            Directory.Move(tree, Path.Combine(layerDirectory, "fs"));
        }
        catch (IOException ex)
        {
            throw new IOException($"Cannot adopt {tree} into {catalog.Root}: a layer is adopted by a rename, so both must be on one file system.", ex);
        }

        try
        {
            catalog.PublishLayer(layerDirectory, record);
        }
        catch
        {
            LayerAdoption.Undo(staging.Path, _logger);
            throw;
        }

        var layer = Describe(chainId, record);
        if (pin is not null)
        {
            using (await catalog.LockStoreAsync(cancellationToken).ConfigureAwait(false))
            {
                WritePin(chainId, pin);
            }
        }

        LogAdopted(chainId, layer.SizeBytes);
        return layer;
    }

    private SnapshotLayer Describe(Digest chainId, LayerRecord record) => new(
        chainId,
        record.Parent is { } parent ? Digest.Parse(parent) : null,
        catalog.LayerTree(chainId),
        record.DiffId is { } diffId ? Digest.Parse(diffId) : null,
        record.SizeBytes,
        record.Origin == LayerOrigins.Adopted,
        record.Created);

    // Call under the store lock, so a prune never sees the layer unpinned and unused in between.
    private void WritePin(Digest chainId, string pin)
    {
        string directory = Directory.CreateDirectory(catalog.PinPath(chainId)).FullName;
        string file = Path.Combine(directory, pin);
        if (!File.Exists(file))
        {
            using (File.Create(file))
            {
            }

            DurableFile.SyncDirectory(directory);
            DurableFile.SyncDirectory(catalog.PinsDirectory);
            LogPinned(chainId, pin);
        }
    }

    private static void CheckPin(string pin)
    {
        ArgumentNullException.ThrowIfNull(pin);
        if (!PinName().IsMatch(pin))
        {
            throw new ArgumentException($"A pin is 1 to {MaxPinLength} letters, digits, '_', '.' or '-', not starting with '.'.", nameof(pin));
        }
    }

    // The tree to adopt: an existing directory itself, not a symbolic link to one (rename would move the link).
    private static string CheckTree(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        string full = Path.GetFullPath(directory);
        if (LibC.Lstat(LibC.AT_FDCWD, full) is not { IsDirectory: true })
        {
            throw new DirectoryNotFoundException($"{full} is not a directory.");
        }

        return full;
    }

    [GeneratedRegex("^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$")]
    private static partial Regex PinName();

    [LoggerMessage(Level = LogLevel.Information, Message = "Adopted {ChainId} into the snapshot store ({Bytes} bytes).")]
    private partial void LogAdopted(Digest chainId, long bytes);

    [LoggerMessage(Level = LogLevel.Information, Message = "The layer {ChainId} was in the snapshot store already; the adopted copy was dropped.")]
    private partial void LogAdoptedExisting(Digest chainId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Pinned {ChainId} as {Pin}.")]
    private partial void LogPinned(Digest chainId, string pin);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Unpinned {ChainId} ({Pin}).")]
    private partial void LogUnpinned(Digest chainId, string pin);
}
