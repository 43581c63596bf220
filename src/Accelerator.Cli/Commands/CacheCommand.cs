using System.CommandLine;
using Accelerator.Cli.Console;
using Accelerator.Snapshots;
using Microsoft.Extensions.DependencyInjection;

namespace Accelerator.Cli.Commands;

/// <summary>
/// <c>accel cache warm REF... | list | evict REF | mount REF DIR | export REF DST | import SRC</c>: the snapshot cache
/// (images prepared ahead as immutable snapshots — unpacked layer trees or verified block disks — mounted as copy-on-write clones).
/// </summary>
internal static class CacheCommand
{
    /// <summary>The snapshot store's default directory.</summary>
    public const string DefaultRoot = "/var/lib/accel/snapshots";

    public static Command Create(CommonOptions common, CliConsole console)
    {
        var root = SnapshotDirectoryOption($"The snapshot store (default: {DefaultRoot}).");
        root.Recursive = true;
        // Before the snapshot store had one flag name in every command, 'accel cache' called it --cache-dir.
        var oldRoot = Flags.HiddenAlias("--cache-dir", "--snapshot-dir");
        oldRoot.Recursive = true;
        var capacity = Flags.Size("--capacity", "The most bytes the snapshots may use (512, 64K, 100M, 10G); least recently used ones are evicted after a warm (default 0: no bound).", allowZero: true);
        capacity.Recursive = true;
        var ttl = Flags.Duration("--ttl", "Evict snapshots unused for this long (30s, 5m, 12h, 7d; a number alone is seconds). Default: never.", TimeSpan.FromSeconds(1));
        ttl.Recursive = true;
        var ttlHours = new Option<double?>("--ttl-hours") { Description = "Replaced by --ttl.", Hidden = true, Recursive = true };
        var noResolve = new Option<bool>("--no-resolve") { Description = "Mount a snapshot warmed under the same tag without asking the registry where the tag points now (like Kubernetes' IfNotPresent).", Recursive = true };
        var command = new Command("cache", "Prepare images ahead as ready-to-mount snapshots and mount copy-on-write clones of them.") { root, oldRoot, capacity, ttl, ttlHours, noResolve };

        // The snapshot store and the image stores, both from the accelerator the common flags describe.
        ImageAcceleratorHost Open(ParseResult result) => common.CreateBuilder(result).UseSnapshotCache(o =>
        {
            o.ResolveTags = !result.GetValue(noResolve);
            o.Root = Path.GetFullPath(result.GetValue(root) ?? result.GetValue(oldRoot) ?? DefaultRoot);
            o.CapacityBytes = result.GetValue(capacity) ?? 0;
            o.TimeToLive = result.GetValue(ttl) ?? (result.GetValue(ttlHours) is { } hours ? TimeSpan.FromHours(hours) : null);
        }).Build();

        var warmImages = new Argument<string[]>("REF") { Description = "Images to warm: host[:port]/repo[:tag|@digest] or oci:DIR[:TAG].", Arity = ArgumentArity.OneOrMore };
        var kind = new Option<string>("--kind") { Description = "tree: unpacked layers stacked by overlayfs (default); block: the image's block variant (TAG-accel-block, else converted here) as one verified disk.", DefaultValueFactory = _ => "tree" };
        kind.AcceptOnlyFromAmong("tree", "block");
        var warm = new Command("warm", "Pull images (only the layers the cache lacks) and publish them as snapshots.") { warmImages, kind };
        warm.SetAction(CommonOptions.Guard(console, async (result, cancellationToken) =>
        {
            await using var accelerator = Open(result);
            var store = accelerator.Services.GetRequiredService<SnapshotStore>();
            var stores = CommonOptions.GetStores(accelerator);
            foreach (string text in result.GetRequiredValue(warmImages))
            {
                var reference = ImageReference.Parse(text);
                var snapshotKind = result.GetValue(kind) == "block" ? SnapshotKind.BlockStack : SnapshotKind.OverlayTree;
                var warmed = await store.WarmAsync(stores.GetStore(reference), reference, snapshotKind, common.GetPlatform(result), cancellationToken).ConfigureAwait(false);
                console.WriteLine($"Warmed {reference} ({warmed.Snapshot.ManifestDigest}, {KindName(warmed.Snapshot.Kind)}): {Units.Count(warmed.LayersFetched, "layer")} fetched " +
                    $"({Units.Bytes(warmed.BytesFetched)}), {warmed.LayersReused} reused, {Units.Bytes(warmed.Snapshot.SizeBytes)} on disk, in {warmed.Elapsed.TotalSeconds:F2} s.");
            }

            return 0;
        }));

        var list = new Command("list", "List the snapshots, most recently used first.");
        list.SetAction(CommonOptions.Guard(console, async (result, _) =>
        {
            await using var accelerator = Open(result);
            var store = accelerator.Services.GetRequiredService<SnapshotStore>();
            var snapshots = store.List();
            console.WriteLine($"{"DIGEST",-19}  {"KIND",-5}  {"SIZE",10}  {"LAST USED",-20}  {"MOUNTED",-7}  REFERENCES");
            foreach (var snapshot in snapshots)
            {
                console.WriteLine($"{snapshot.ManifestDigest.ToString()[..19]}  {KindName(snapshot.Kind),-5}  {Units.Bytes(snapshot.SizeBytes),10}  {snapshot.LastUsed.UtcDateTime,-20:yyyy-MM-dd HH:mm:ss}  " +
                    $"{(snapshot.Mounted ? "yes" : "no"),-7}  {string.Join(", ", snapshot.References.Where(r => !r.Contains('@', StringComparison.Ordinal)).DefaultIfEmpty(snapshot.References.FirstOrDefault() ?? string.Empty))}");
            }

            console.WriteLine($"{Units.Count(snapshots.Count, "snapshot")}, {Units.Bytes(store.UsedBytes())} used.");
            return 0;
        }));

        var evictImage = new Argument<string>("REF") { Description = "A reference the image was warmed as, or its manifest digest (sha256:...)." };
        var evict = new Command("evict", "Remove a snapshot (and the layers no other snapshot uses).") { evictImage };
        evict.SetAction(CommonOptions.Guard(console, async (result, cancellationToken) =>
        {
            await using var accelerator = Open(result);
            var store = accelerator.Services.GetRequiredService<SnapshotStore>();
            var snapshot = Find(store, result.GetRequiredValue(evictImage));
            await store.EvictAsync(snapshot.ManifestDigest, cancellationToken).ConfigureAwait(false);
            console.WriteLine($"Evicted {snapshot.ManifestDigest}.");
            return 0;
        }));

        var mountImage = new Argument<string>("REF") { Description = "The image to mount." };
        var mountPoint = new Argument<string>("DIR") { Description = "An existing directory to mount the clone on." };
        var readOnly = new Option<bool>("--read-only") { Description = "Mount the snapshot read-only (no upper directory)." };
        var mount = new Command("mount", "Mount a copy-on-write clone of an image's snapshot at DIR; it stays mounted until 'accel umount DIR' (a block snapshot is served by this process until then).") { mountImage, mountPoint, readOnly };
        mount.SetAction(CommonOptions.Guard(console, async (result, cancellationToken) =>
        {
            await using var accelerator = Open(result);
            var store = accelerator.Services.GetRequiredService<SnapshotStore>();
            var reference = ImageReference.Parse(result.GetRequiredValue(mountImage));
            var stores = CommonOptions.GetStores(accelerator);
            // A tree clone's overlay outlives this process; 'accel umount' unmounts it and the store reclaims its upper directory.
            var mounted = await store.MountAsync(stores.GetStore(reference), reference, result.GetRequiredValue(mountPoint),
                new SnapshotMountOptions { ReadOnly = result.GetValue(readOnly), Platform = common.GetPlatform(result) }, cancellationToken).ConfigureAwait(false);
            string ready = $"Mounted {reference} ({mounted.ManifestDigest}, {KindName(mounted.Kind)}) at {mounted.MountPoint} from the snapshot cache in " +
                $"{mounted.Statistics.TimeToReady.TotalMilliseconds:F1} ms. Unmount with 'accel umount {mounted.MountPoint}'.";
            if (mounted.Kind == SnapshotKind.OverlayTree)
            {
                console.WriteLine(ready);
                return 0;
            }

            // A block clone's disk is served by this process (FUSE): it serves until unmounted or signalled, then tears down.
            await using (mounted)
            {
                await MountCommand.ServeAsync(mounted, console, ready, cancellationToken).ConfigureAwait(false);
            }

            console.WriteLine($"Unmounted {mounted.MountPoint}.");
            return 0;
        }));

        var exportImage = new Argument<string>("REF") { Description = "A reference the image was warmed as, or its manifest digest." };
        var destination = new Argument<string>("DST") { Description = "A file (a path with no registry host, e.g. ./snap.tar or /tmp/snap.tar), or a registry reference host[:port]/repo:tag to push an OCI artifact to." };
        var export = new Command("export", "Write a snapshot as one blob to a file, or push it to a registry as an OCI artifact.") { exportImage, destination };
        export.SetAction(CommonOptions.Guard(console, async (result, cancellationToken) =>
        {
            await using var accelerator = Open(result);
            var store = accelerator.Services.GetRequiredService<SnapshotStore>();
            string text = result.GetRequiredValue(exportImage);
            var snapshot = Find(store, text);
            string target = result.GetRequiredValue(destination);
            var stores = CommonOptions.GetStores(accelerator);
            // A tree snapshot's archive carries the image's own layer blobs (what an importer can verify), read from the
            // image's registry (or layout) through the configured mirrors.
            var image = LayerSource(text, snapshot);
            var source = snapshot.Kind == SnapshotKind.OverlayTree && image is not null ? stores.GetStore(image) : null;
            if (AsRegistryReference(target) is { } artifact)
            {
                var pushed = await store.PushAsync(snapshot.ManifestDigest, stores.GetStoreForWrite(artifact), artifact, source, image, cancellationToken).ConfigureAwait(false);
                console.WriteLine($"Pushed the snapshot of {snapshot.ManifestDigest} to {artifact} ({pushed.Digest}).");
                return 0;
            }

            string file = Path.GetFullPath(target);
            string temporary = file + ".partial";
            Descriptor blob;
            await using (var output = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
            {
                blob = await store.ExportAsync(snapshot.ManifestDigest, output, source, image, cancellationToken).ConfigureAwait(false);
            }

            File.Move(temporary, file, overwrite: true);
            console.WriteLine($"Exported the snapshot of {snapshot.ManifestDigest} to {file}: {blob.Digest}, {Units.Bytes(blob.Size)}.");
            return 0;
        }));

        var importSource = new Argument<string>("SRC") { Description = "A file written by 'accel cache export', or the registry reference it was pushed to." };
        var import = new Command("import", "Import a snapshot from a file or a registry artifact.") { importSource };
        import.SetAction(CommonOptions.Guard(console, async (result, cancellationToken) =>
        {
            await using var accelerator = Open(result);
            var store = accelerator.Services.GetRequiredService<SnapshotStore>();
            string source = result.GetRequiredValue(importSource);
            SnapshotInfo snapshot;
            if (AsRegistryReference(source) is { } artifact)
            {
                var stores = CommonOptions.GetStores(accelerator);
                snapshot = await store.PullAsync(stores.GetStore(artifact), artifact, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await using var input = new FileStream(Path.GetFullPath(source), FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
                snapshot = await store.ImportAsync(input, cancellationToken).ConfigureAwait(false);
            }

            console.WriteLine($"Imported the snapshot of {snapshot.ManifestDigest} ({string.Join(", ", snapshot.References)}), {Units.Bytes(snapshot.SizeBytes)}.");
            return 0;
        }));

        command.Subcommands.Add(warm);
        command.Subcommands.Add(list);
        command.Subcommands.Add(evict);
        command.Subcommands.Add(mount);
        command.Subcommands.Add(export);
        command.Subcommands.Add(import);
        return command;
    }

    /// <summary><c>--snapshot-dir DIR</c>: the snapshot store, by that name in every command (cache, mount).</summary>
    internal static Option<string?> SnapshotDirectoryOption(string description) => new("--snapshot-dir") { Description = description, HelpName = "DIR" };

    private static string KindName(SnapshotKind kind) => kind == SnapshotKind.BlockStack ? "block" : "tree";

    private static SnapshotInfo Find(SnapshotStore store, string text)
    {
        if (Digest.TryParse(text, out var digest))
        {
            return store.Find(digest) ?? store.FindByReference(ImageReference.Create("localhost", "x", digest: digest)).FirstOrDefault()
                ?? throw new InvalidOperationException($"No snapshot of {digest} is in {store.Root}.");
        }

        var matches = store.FindByReference(ImageReference.Parse(text));
        return matches.Count switch
        {
            1 => matches[0],
            0 => throw new InvalidOperationException($"No snapshot of {text} is in {store.Root} (see 'accel cache list')."),
            _ => throw new InvalidOperationException($"{text} names {matches.Count} snapshots; give a manifest digest."),
        };
    }

    // A registry reference names its host (a first component with '.' or ':' or 'localhost'); anything else is a file.
    // The image to read layer blobs from: the reference given, else one the snapshot was warmed as.
    private static ImageReference? LayerSource(string text, SnapshotInfo snapshot)
    {
        if (!Digest.TryParse(text, out _) && ImageReference.TryParse(text, out var given))
        {
            return given;
        }

        foreach (string reference in snapshot.References)
        {
            if (ImageReference.TryParse(reference, out var parsed))
            {
                return parsed;
            }
        }

        return null;
    }

    private static ImageReference? AsRegistryReference(string text)
    {
        if (text.StartsWith('/') || text.StartsWith('.') || !text.Contains('/', StringComparison.Ordinal))
        {
            return null;
        }

        string host = text[..text.IndexOf('/', StringComparison.Ordinal)];
        return (host.Contains('.', StringComparison.Ordinal) || host.Contains(':', StringComparison.Ordinal) || host == "localhost")
            && ImageReference.TryParse(text, out var reference) && reference.Kind == ImageReferenceKind.Registry
            ? reference
            : null;
    }
}
