using Accelerator.Oci.Registry;
using Accelerator.Testing.Samples;
using Accelerator.Snapshots.Blocks;
using Accelerator.Snapshots.Tests.Support;
using Accelerator.Testing.Fuzzing;
using Accelerator.Testing.Images;
using Accelerator.Testing.Trees;

namespace Accelerator.Snapshots.Tests.Blocks;

/// <summary>
/// Block-stack snapshots against a real registry holding block variants made by the block converter: warm, clone
/// (FUSE, loop device, ext4, overlay), compare with umoci, copy-on-write, corruption, crash, eviction, export/import.
/// </summary>
[Collection(SnapshotCollection.Name)]
public sealed class BlockSnapshotTests(SnapshotFixture fixture) : IDisposable
{
    private static readonly SampleImageOptions Large = new() { LayerCount = 4, TotalSize = 80L << 20, Seed = 7 };
    private static readonly SampleImageOptions Small = new() { LayerCount = 2, TotalSize = 2L << 20, Seed = 3 };
    private static readonly TreeCompareOptions WithoutLostAndFound = new() { IgnorePath = p => p == "lost+found" };

    private readonly RegistryClient _client = new(new RegistryOptions { PlainHttp = true });
    private readonly string _work = fixture.NewDirectory("block");

    public void Dispose()
    {
        _client.Dispose();
        Directory.Delete(_work, recursive: true);
    }

    private string Root => Path.Combine(_work, "cache");

    private SnapshotStore OpenStore(string name = "cache", long capacity = 0)
        => SnapshotStore.Open(new SnapshotStoreOptions { Root = Path.Combine(_work, name), CapacityBytes = capacity });

    private string NewMountPoint() => Directory.CreateDirectory(Path.Combine(_work, "mnt-" + Guid.NewGuid().ToString("N")[..8])).FullName;

    private CountingImageStore Registry(ImageReference image) => new(_client.GetStore(image.Registry));

    [Fact]
    public async Task WarmAsync_BlockKind80MBSample_CloneEqualsUmociUnpack()
    {
        var (image, reference) = await fixture.BlockSampleAsync("large", Large);
        var store = OpenStore();

        var warm = await store.WarmAsync(Registry(image), image, SnapshotKind.BlockStack);
        string mountPoint = NewMountPoint();
        await using (var mounted = await store.MountAsync(Registry(image), image, mountPoint))
        {
            var differences = CompareSample(reference, mountPoint);

            Assert.True(differences.Count == 0, "The block clone differs from umoci's unpack:\n" + string.Join("\n", differences.Take(20)));
            Assert.Equal(SnapshotKind.BlockStack, mounted.Kind);
            Assert.Equal(Strategy.Cache, mounted.Statistics.Strategy);
            Assert.StartsWith("/dev/loop", mounted.LoopDevice);
            Assert.True(store.Find(warm.Snapshot.ManifestDigest)!.Mounted);
        }

        Assert.Equal(SnapshotKind.BlockStack, warm.Snapshot.Kind);
        Assert.Equal(1, warm.LayersFetched);
        Assert.True(warm.BytesFetched > 0);
        Assert.Empty(Directory.EnumerateFileSystemEntries(mountPoint));
        Assert.False(store.Find(warm.Snapshot.ManifestDigest)!.Mounted);
        Assert.Empty(Directory.EnumerateDirectories(Path.Combine(Root, "mounts")));
        Assert.DoesNotContain(File.ReadLines("/proc/self/mountinfo"), line => line.Contains(Root, StringComparison.Ordinal));

        // A second warm finds the snapshot: nothing fetched.
        var again = await store.WarmAsync(Registry(image), image, SnapshotKind.BlockStack);
        Assert.Equal(0, again.LayersFetched);
        Assert.Equal(0, again.BytesFetched);
    }

    [Fact]
    public async Task MountAsync_BlockCloneWritten_NextCloneSeesPristineSnapshot()
    {
        var (image, reference) = await fixture.BlockSampleAsync("small", Small);
        var store = OpenStore();
        await store.WarmAsync(Registry(image), image, SnapshotKind.BlockStack);
        var victim = reference.Entries.Values.First(e => e.Type == TreeEntryType.RegularFile && e.Size > 0);

        string first = NewMountPoint();
        await using (var mounted = await store.MountAsync(Registry(image), image, first))
        {
            await File.WriteAllTextAsync(Path.Combine(first, "written-by-clone"), "x");
            await File.WriteAllTextAsync(Path.Combine(first, victim.Path), "changed");
            Assert.NotNull(mounted.UpperDirectory);
            Assert.True(File.Exists(Path.Combine(mounted.UpperDirectory!, "written-by-clone")));
        }

        string second = NewMountPoint();
        await using (await store.MountAsync(Registry(image), image, second))
        {
            var differences = CompareSample(reference, second);

            Assert.True(differences.Count == 0, string.Join("\n", differences.Take(10)));
            Assert.False(File.Exists(Path.Combine(second, "written-by-clone")));
        }
    }

    [Fact]
    public async Task WarmAsync_BlockKindWithoutVariant_ConvertsLocallyAndCloneEqualsUmoci()
    {
        var store = OpenStore();
        var image = fixture.ConformanceReference;

        var warm = await store.WarmAsync(Registry(image), image, SnapshotKind.BlockStack);
        string mountPoint = NewMountPoint();
        await using (await store.MountAsync(Registry(image), image, mountPoint, new SnapshotMountOptions { ReadOnly = true }))
        {
            var differences = TreeSnapshot.Compare(fixture.ReferenceSnapshot, TreeSnapshot.Capture(mountPoint), WithoutLostAndFound);

            Assert.True(differences.Count == 0, "The converted block clone differs from umoci's unpack:\n" + string.Join("\n", differences.Take(20)));
        }

        Assert.Equal(SnapshotKind.BlockStack, warm.Snapshot.Kind);
        // A tree warm of the same manifest is refused rather than mixing kinds.
        await Assert.ThrowsAsync<InvalidOperationException>(() => store.WarmAsync(Registry(image), image, SnapshotKind.OverlayTree));
    }

    [Fact]
    public async Task MountAsync_WhileBlockWarmRuns_WaitsAndMountsItsSnapshot()
    {
        var (image, reference) = await fixture.BlockSampleAsync("large", Large);
        var warming = OpenStore();
        // The mounting store's default kind is tree: it must still wait for the block warm and mount its snapshot.
        var mounting = OpenStore();
        var counting = Registry(image);
        var warm = Task.Run(() => warming.WarmAsync(counting, image, SnapshotKind.BlockStack));
        while (!warm.IsCompleted && !Directory.EnumerateDirectories(Path.Combine(Root, "staging")).Any())
        {
            await Task.Delay(2);
        }

        var mountCounting = Registry(image);
        string mountPoint = NewMountPoint();
        await using (var mounted = await mounting.MountAsync(mountCounting, image, mountPoint, new SnapshotMountOptions { ReadOnly = true }))
        {
            var differences = CompareSample(reference, mountPoint);

            Assert.True(differences.Count == 0, string.Join("\n", differences.Take(10)));
            Assert.Equal(SnapshotKind.BlockStack, mounted.Kind);
        }

        await warm;
        // Only the warm fetched the block image's blobs; the mount read the source's config alone (to resolve the tag).
        var resolved = await Accelerator.Oci.Resolution.ImageResolver.ResolveAsync(_client.GetStore(image.Registry), image);
        Assert.True(counting.Opened.Count > 2);
        Assert.Equal([resolved.ImageManifest.Config.Digest], mountCounting.Opened.Keys);
    }

    [Fact]
    public async Task MountAsync_CorruptStoredBlock_ReadFailsNeverServed()
    {
        var (image, reference) = await fixture.BlockSampleAsync("small", Small);
        var store = OpenStore();
        var warm = await store.WarmAsync(Registry(image), image, SnapshotKind.BlockStack);
        string layer = Path.Combine(Root, "layers", warm.Snapshot.ChainIds[0].Encoded);
        var victim = reference.Entries.Values.Where(e => e.Type == TreeEntryType.RegularFile).MaxBy(e => e.Size)!;
        long offset = await PhysicalOffsetAsync(Path.Combine(layer, "disk"), victim.Path);

        // Flip one byte of the file's first data block in the stored disk.
        using (var disk = File.OpenHandle(Path.Combine(layer, "disk"), FileMode.Open, FileAccess.ReadWrite))
        {
            byte[] one = new byte[1];
            RandomAccess.Read(disk, one, offset);
            one[0] ^= 0xFF;
            RandomAccess.Write(disk, one, offset);
        }

        string mountPoint = NewMountPoint();
        await using (await store.MountAsync(Registry(image), image, mountPoint, new SnapshotMountOptions { ReadOnly = true }))
        {
            Assert.ThrowsAny<IOException>(() => { _ = File.ReadAllBytes(Path.Combine(mountPoint, victim.Path)); });
        }

        await using var verifying = BlockSnapshotDisk.Open(layer, "disk", "index", warm.Snapshot.ChainIds[0]);
        await Assert.ThrowsAsync<IOException>(async () => await verifying.ReadAsync(offset, new byte[512]));
        Assert.Equal(1, verifying.CorruptBlocks);
        await Assert.ThrowsAsync<IOException>(() => store.ExportAsync(warm.Snapshot.ManifestDigest, Stream.Null));
    }

    [Fact]
    public async Task Open_AfterKill9DuringBlockWarm_NoPartialSnapshotMountable()
    {
        var (image, _) = await fixture.BlockSampleAsync("large", Large);
        using var child = CliRunner.Start("cache", "warm", image.ToString(), "--kind", "block", "--cache-dir", Root, "--plain-http");
        string staging = Path.Combine(Root, "staging");

        // Kill it while it writes the disk file.
        while (!child.HasExited && !IsWritingDisk(staging))
        {
            await Task.Delay(2);
        }

        Assert.False(child.HasExited, "The warm ended before it could be killed.");
        child.Kill();
        await child.WaitForExitAsync();

        var store = OpenStore();

        Assert.Equal(1, store.Recovery.StagingRemoved);
        Assert.Empty(store.List());
        Assert.Empty(Directory.EnumerateFileSystemEntries(staging));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(Root, "layers")));
        await Assert.ThrowsAsync<SnapshotNotFoundException>(() => store.MountAsync(_client.GetStore(image.Registry), image, NewMountPoint(), new SnapshotMountOptions { TopUp = false }));

        var warmed = await store.WarmAsync(_client.GetStore(image.Registry), image, SnapshotKind.BlockStack);
        Assert.Equal(1, warmed.LayersFetched);
        Assert.NotNull(store.Find(warmed.Snapshot.ManifestDigest));
    }

    [Fact]
    public async Task Open_AfterKill9OfServingBlockClone_UnmountsDetachesAndRemovesIt()
    {
        var (image, _) = await fixture.BlockSampleAsync("small", Small);
        await OpenStore().WarmAsync(Registry(image), image, SnapshotKind.BlockStack);
        string mountPoint = NewMountPoint();
        using var child = CliRunner.Start("cache", "mount", image.ToString(), mountPoint, "--cache-dir", Root, "--plain-http");
        while (!child.HasExited && !File.ReadLines("/proc/self/mountinfo").Any(l => l.Contains(" " + mountPoint + " ", StringComparison.Ordinal)))
        {
            await Task.Delay(20);
        }

        Assert.False(child.HasExited, "The mount ended before it could be killed.");
        child.Kill();
        await child.WaitForExitAsync();
        Assert.True(OpenStore().List()[0].Mounted, "The overlay is still mounted: the clone counts as in use.");
        await ExternalTool.RunAsync("umount", [mountPoint]);

        var store = OpenStore();

        Assert.Equal(1, store.Recovery.MountsRemoved);
        Assert.Empty(Directory.EnumerateDirectories(Path.Combine(Root, "mounts")));
        Assert.DoesNotContain(File.ReadLines("/proc/self/mountinfo"), line => line.Contains(Root, StringComparison.Ordinal));
        Assert.DoesNotContain(
            Directory.EnumerateDirectories("/sys/block", "loop*").Select(d => Path.Combine(d, "loop", "backing_file")).Where(File.Exists).Select(File.ReadAllText),
            backing => backing.StartsWith(Root, StringComparison.Ordinal));
        Assert.False(store.List()[0].Mounted);
    }

    [Fact]
    public async Task WarmAsync_BlockSnapshotsOverCapacity_EvictsLeastRecentlyUsedKeepsMounted()
    {
        var (small, _) = await fixture.BlockSampleAsync("small", Small);
        var (large, _) = await fixture.BlockSampleAsync("large", Large);
        var store = OpenStore(capacity: 16L << 20);

        var first = await store.WarmAsync(Registry(small), small, SnapshotKind.BlockStack);
        string mountPoint = NewMountPoint();
        Digest largeDigest;
        await using (await store.MountAsync(Registry(small), small, mountPoint, new SnapshotMountOptions { ReadOnly = true }))
        {
            var second = await store.WarmAsync(Registry(large), large, SnapshotKind.BlockStack);
            largeDigest = second.Snapshot.ManifestDigest;

            // Over capacity (the 80 MB one alone is), but the mounted one stays, and so does the one just warmed.
            Assert.Equal(2, store.List().Count);
            Assert.True(store.UsedBytes() > 16L << 20);
            await Assert.ThrowsAsync<InvalidOperationException>(() => store.EvictAsync(first.Snapshot.ManifestDigest));
        }

        // The small one is used again; the large one is now the least recently used and goes first.
        await store.WarmAsync(Registry(small), small, SnapshotKind.BlockStack);
        int evicted = await store.PruneAsync();

        var left = Assert.Single(store.List());
        Assert.Equal(1, evicted);
        Assert.Equal(first.Snapshot.ManifestDigest, left.ManifestDigest);
        Assert.Null(store.Find(largeDigest));
        Assert.Single(Directory.EnumerateDirectories(Path.Combine(Root, "layers")));
        Assert.Equal(left.SizeBytes, store.UsedBytes());
    }

    [Fact]
    public async Task ExportImportPushPull_BlockSnapshot_MountsOnOtherStores()
    {
        var (image, reference) = await fixture.BlockSampleAsync("small", Small);
        var source = OpenStore("source");
        var warm = await source.WarmAsync(Registry(image), image, SnapshotKind.BlockStack);
        using var archive = new MemoryStream();
        var blob = await source.ExportAsync(warm.Snapshot.ManifestDigest, archive);
        byte[] bytes = archive.ToArray();

        var target = OpenStore("target");
        var imported = await target.ImportAsync(new MemoryStream(bytes));
        string mountPoint = NewMountPoint();
        await using (var mounted = await target.MountAsync(warm.Snapshot.ManifestDigest, image, mountPoint, readOnly: true))
        {
            var differences = CompareSample(reference, mountPoint);

            Assert.True(differences.Count == 0, string.Join("\n", differences.Take(10)));
            Assert.Equal(SnapshotKind.BlockStack, mounted.Kind);
        }

        Assert.Equal(Digest.Compute(bytes), blob.Digest);
        Assert.Equal(SnapshotKind.BlockStack, imported.Kind);
        Assert.Equal(warm.Snapshot.ChainIds, imported.ChainIds);
        // By digest, without a registry: the imported snapshot serves a mount of NAME@DIGEST.
        Assert.NotNull(target.TryFindWithoutRegistry(image.WithDigest(warm.Snapshot.ManifestDigest)));

        // Through a registry as an OCI artifact, then mounted by tag on a third store.
        var artifact = ImageReference.Parse($"{fixture.Registry.Host}/snapshots/block-small:v1");
        await source.PushAsync(warm.Snapshot.ManifestDigest, _client.GetStore(artifact.Registry), artifact);
        var pulledStore = OpenStore("pulled");
        var pulled = await pulledStore.PullAsync(_client.GetStore(artifact.Registry), artifact);
        string third = NewMountPoint();
        await using (var mounted = await pulledStore.MountAsync(_client.GetStore(image.Registry), image, third, new SnapshotMountOptions { TopUp = false }))
        {
            var differences = CompareSample(reference, third);

            Assert.True(differences.Count == 0, string.Join("\n", differences.Take(10)));
            Assert.Equal(SnapshotKind.BlockStack, mounted.Kind);
        }

        Assert.Equal(SnapshotKind.BlockStack, pulled.Kind);
    }

    [Fact]
    public async Task ImportAsync_BlockArchiveWithCorruptBlock_ThrowsAndPublishesNothing()
    {
        var (image, _) = await fixture.BlockSampleAsync("small", Small);
        var source = OpenStore("source");
        var warm = await source.WarmAsync(Registry(image), image, SnapshotKind.BlockStack);
        using var archive = new MemoryStream();
        await source.ExportAsync(warm.Snapshot.ManifestDigest, archive);
        byte[] bytes = archive.ToArray();
        // The data entry is last: a byte near the end (before the two zero end-of-archive records and padding) is block data.
        int data = bytes.Length - 1024 - 1;
        while (bytes[data] == 0)
        {
            data--;
        }

        bytes[data] ^= 0x01;
        var target = OpenStore("target");

        await Assert.ThrowsAsync<DigestMismatchException>(() => target.ImportAsync(new MemoryStream(bytes)));
        Assert.Empty(target.List());
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(_work, "target", "layers")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(_work, "target", "staging")));
    }

    [Fact]
    public async Task ImportAsync_MutatedBlockArchives_CleanErrorOrIntactSnapshot()
    {
        var (image, _) = await fixture.BlockSampleAsync("small", Small);
        var source = OpenStore("source");
        var warm = await source.WarmAsync(Registry(image), image, SnapshotKind.BlockStack);
        using var archive = new MemoryStream();
        await source.ExportAsync(warm.Snapshot.ManifestDigest, archive);
        byte[] seed = archive.ToArray();
        var random = new Random(4321);
        var target = OpenStore("fuzz");
        int accepted = 0;
        for (int i = 0; i < 60; i++)
        {
            // Mutations of the header and index region (the first 64 KiB), truncations, and mutations anywhere.
            byte[] input = (i % 3) switch
            {
                0 => FuzzInput.Mutate(seed.AsSpan(0, Math.Min(seed.Length, 64 << 10)), random).Concat(seed.Skip(64 << 10)).ToArray(),
                1 => seed.AsSpan(0, random.Next(seed.Length)).ToArray(),
                _ => FuzzInput.Mutate(seed, random),
            };
            try
            {
                var imported = await target.ImportAsync(new MemoryStream(input));
                // Accepted: then it is the real snapshot, and every block of its disk reads verified.
                Assert.Equal(warm.Snapshot.ChainIds, imported.ChainIds);
                await using (var disk = BlockSnapshotDisk.Open(Path.Combine(target.Root, "layers", imported.ChainIds[0].Encoded), "disk", "index", imported.ChainIds[0]))
                {
                    byte[] buffer = new byte[1 << 20];
                    for (long offset = 0; offset < disk.Size; offset += buffer.Length)
                    {
                        await disk.ReadAsync(offset, buffer.AsMemory(0, (int)Math.Min(buffer.Length, disk.Size - offset)));
                    }
                }

                await target.EvictAsync(imported.ManifestDigest);
                accepted++;
            }
            catch (Exception ex) when (ex is InvalidDataException or DigestMismatchException or FormatException or ContentTooLargeException or EndOfStreamException or IOException)
            {
            }
        }

        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(target.Root, "staging")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(target.Root, "layers")));
    }

    [Fact]
    public async Task Cache_WarmKindBlockListMountUmount_ServesUntilUmount()
    {
        var (image, reference) = await fixture.BlockSampleAsync("small", Small);
        var warm = await CliRunner.RunAsync("cache", "warm", image.ToString(), "--kind", "block", "--cache-dir", Root, "--plain-http");
        var list = await CliRunner.RunAsync("cache", "list", "--cache-dir", Root);
        string mountPoint = NewMountPoint();

        var serving = Task.Run(() => CliRunner.RunAsync("cache", "mount", image.ToString(), mountPoint, "--cache-dir", Root, "--plain-http"));
        while (!serving.IsCompleted && !File.ReadLines("/proc/self/mountinfo").Any(l => l.Contains(" " + mountPoint + " ", StringComparison.Ordinal)))
        {
            await Task.Delay(20);
        }

        var differences = CompareSample(reference, mountPoint);
        var umount = await CliRunner.RunAsync("umount", mountPoint);
        var served = await serving;

        Assert.True(warm.ExitCode == 0, warm.Error);
        Assert.Contains(", block)", warm.Out);
        Assert.Contains(" block ", list.Out);
        Assert.True(differences.Count == 0, string.Join("\n", differences));
        Assert.Equal(0, umount.ExitCode);
        Assert.True(served.ExitCode == 0, served.Error);
        Assert.Contains("Unmounted", served.Out);
        Assert.Empty(Directory.EnumerateDirectories(Path.Combine(Root, "mounts")));
    }

    // The sample images' layers carry no root entry: umoci leaves the root's mtime at the epoch, while the block converter
    // (through ImagePuller's staging directory) stamps the conversion time on it. That one field is the converter's, not
    // the snapshot's; everything else must be equal.
    private static List<TreeDifference> CompareSample(TreeSnapshot reference, string mountPoint)
        => TreeSnapshot.Compare(reference, TreeSnapshot.Capture(mountPoint), WithoutLostAndFound)
            .Where(d => !(d.Path == "." && d.Field == "mtime"))
            .ToList();

    private static bool IsWritingDisk(string staging)
    {
        try
        {
            return Directory.EnumerateDirectories(staging).Any(d => File.Exists(Path.Combine(d, "block-layer", "disk")) && Directory.EnumerateFiles(Path.Combine(d, "block-blobs")).Any());
        }
        catch (IOException)
        {
            return false;
        }
    }

    // Where the first data block of PATH lies in an ext4 image: debugfs bmap gives the file-system block.
    private static async Task<long> PhysicalOffsetAsync(string disk, string path)
    {
        string blockSize = await ExternalTool.RunAsync("dumpe2fs", ["-h", disk]);
        int size = int.Parse(blockSize.Split('\n').First(l => l.StartsWith("Block size:", StringComparison.Ordinal)).Split(':')[1].Trim(), System.Globalization.CultureInfo.InvariantCulture);
        string block = await ExternalTool.RunAsync("debugfs", ["-R", $"bmap /{path} 0", disk]);
        return long.Parse(block.Trim().Split('\n').Last().Trim(), System.Globalization.CultureInfo.InvariantCulture) * size;
    }
}
