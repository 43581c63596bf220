using System.Text.Json.Nodes;
using Accelerator.Oci.Registry;
using Accelerator.Testing.Samples;
using Accelerator.Snapshots.Tests.Support;

namespace Accelerator.Snapshots.Tests.Issues;

/// <summary>
/// Issue 12, B12: a snapshot archive must not certify itself. An archive that claims another image's manifest digest,
/// carries another image's layer or config, or pairs a block index with another image is refused with one clear error,
/// and the store is left as it was; only references pinned to the verified digest are recorded.
/// </summary>
[Collection(SnapshotCollection.Name)]
public sealed class Issue12_SnapshotArchiveTrustTests(SnapshotFixture fixture) : IDisposable
{
    private static readonly SampleImageOptions Victim = new() { LayerCount = 2, TotalSize = 2L << 20, Seed = 3 };
    private static readonly SampleImageOptions Attacker = new() { LayerCount = 2, TotalSize = 2L << 20, Seed = 1203 };

    private readonly RegistryClient _client = new(new RegistryOptions { PlainHttp = true });
    private readonly string _work = fixture.NewDirectory("issue12-archive");
    private readonly Dictionary<Digest, SnapshotStore> _sources = [];

    public void Dispose()
    {
        _client.Dispose();
        Directory.Delete(_work, recursive: true);
    }

    [Fact]
    public async Task ImportAsync_ArchiveClaimsAnotherImagesManifestDigest_RefusedAndStoreUntouched()
    {
        var (victim, victimDigest) = await WarmAsync("small", Victim, SnapshotKind.OverlayTree);
        var (attacker, attackerDigest) = await WarmAsync("issue12-attacker", Attacker, SnapshotKind.OverlayTree);
        var forged = ArchiveEntries.Read(await ExportAsync(attacker, attackerDigest));
        forged.EditHeader(h =>
        {
            h["manifestDigest"] = victimDigest.ToString();
            h["references"] = new JsonArray(victim.ToString(), victim.WithDigest(victimDigest).ToString());
        });

        var target = OpenStore("claims");

        await AssertRefusedAsync(target, forged.Write());
        Assert.Null(target.TryFindWithoutRegistry(victim.WithDigest(victimDigest)));
    }

    [Fact]
    public async Task ImportAsync_VictimManifestAndConfigWithAttackerLayer_RefusedAndStoreUntouched()
    {
        var (victim, victimDigest) = await WarmAsync("small", Victim, SnapshotKind.OverlayTree);
        var (attacker, attackerDigest) = await WarmAsync("issue12-attacker", Attacker, SnapshotKind.OverlayTree);
        var forged = ArchiveEntries.Read(await ExportAsync(victim, victimDigest));
        var attackerArchive = ArchiveEntries.Read(await ExportAsync(attacker, attackerDigest));
        string layer = forged.Entries.Last().Name;
        forged[layer] = attackerArchive[layer];

        await AssertRefusedAsync(OpenStore("swapped-layer"), forged.Write());
    }

    [Fact]
    public async Task ImportAsync_VictimManifestWithAttackerConfig_RefusedAndStoreUntouched()
    {
        var (victim, victimDigest) = await WarmAsync("small", Victim, SnapshotKind.OverlayTree);
        var (attacker, attackerDigest) = await WarmAsync("issue12-attacker", Attacker, SnapshotKind.OverlayTree);
        var forged = ArchiveEntries.Read(await ExportAsync(victim, victimDigest));
        var attackerArchive = ArchiveEntries.Read(await ExportAsync(attacker, attackerDigest));
        forged["image/config.json"] = attackerArchive["image/config.json"];

        await AssertRefusedAsync(OpenStore("swapped-config"), forged.Write());
    }

    [Fact]
    public async Task ImportAsync_ArchiveWithTagReferences_RecordsOnlyReferencesPinnedToItsDigest()
    {
        var (victim, victimDigest) = await WarmAsync("small", Victim, SnapshotKind.OverlayTree);
        var archive = ArchiveEntries.Read(await ExportAsync(victim, victimDigest));
        archive.EditHeader(h => h["references"] = new JsonArray(
            "registry.example/trusted/app:latest", victim.ToString(), victim.WithDigest(victimDigest).ToString(), "registry.example/other@" + Digest.Compute("x"u8)));
        var target = OpenStore("references");

        var imported = await target.ImportAsync(new MemoryStream(archive.Write()));

        Assert.Equal([victim.WithDigest(victimDigest).ToString()], imported.References);
        Assert.Empty(target.FindByReference(ImageReference.Parse("registry.example/trusted/app:latest")));
    }

    [Fact]
    public async Task ImportAsync_BlockArchiveClaimsAnotherImage_RefusedAndStoreUntouched()
    {
        var (victim, victimDigest) = await WarmAsync("small", Victim, SnapshotKind.BlockStack);
        var (attacker, attackerDigest) = await WarmAsync("issue12-attacker", Attacker, SnapshotKind.BlockStack);
        var victimArchive = ArchiveEntries.Read(await ExportAsync(victim, victimDigest));
        var forged = ArchiveEntries.Read(await ExportAsync(attacker, attackerDigest));
        forged.EditHeader(h =>
        {
            h["manifestDigest"] = victimDigest.ToString();
            h["references"] = new JsonArray(victim.WithDigest(victimDigest).ToString());
        });
        if (victimArchive.Contains("image/manifest.json"))
        {
            // The victim's manifest and config are public: a forger carries them.
            forged["image/manifest.json"] = victimArchive["image/manifest.json"];
            forged["image/config.json"] = victimArchive["image/config.json"];
        }

        await AssertRefusedAsync(OpenStore("block-claims"), forged.Write());
    }

    [Fact]
    public async Task ImportAsync_BlockArchiveWithAnotherImagesIndexAndBlocks_RefusedAndStoreUntouched()
    {
        var (victim, victimDigest) = await WarmAsync("small", Victim, SnapshotKind.BlockStack);
        var (attacker, attackerDigest) = await WarmAsync("issue12-attacker", Attacker, SnapshotKind.BlockStack);
        var forged = ArchiveEntries.Read(await ExportAsync(victim, victimDigest));
        var attackerArchive = ArchiveEntries.Read(await ExportAsync(attacker, attackerDigest));
        forged["block/index"] = attackerArchive["block/index"];
        forged["block/data"] = attackerArchive["block/data"];
        var attackerBlock = JsonNode.Parse(attackerArchive["snapshot.json"])!["block"]!.DeepClone();
        forged.EditHeader(h => h["block"] = attackerBlock);

        await AssertRefusedAsync(OpenStore("block-index"), forged.Write());
    }

    private SnapshotStore OpenStore(string name) => SnapshotStore.Open(new SnapshotStoreOptions { Root = Path.Combine(_work, name) });

    private async Task<(ImageReference Image, Digest ManifestDigest)> WarmAsync(string name, SampleImageOptions options, SnapshotKind kind)
    {
        var (image, _) = kind == SnapshotKind.BlockStack ? await fixture.BlockSampleAsync(name, options) : await fixture.SampleAsync(name, options);
        var store = OpenStore($"source-{name}-{kind}");
        var warmed = await store.WarmAsync(_client.GetStore(image.Registry), image, kind);
        _sources[warmed.Snapshot.ManifestDigest] = store;
        return (image, warmed.Snapshot.ManifestDigest);
    }

    private async Task<byte[]> ExportAsync(ImageReference image, Digest manifestDigest)
    {
        var store = _sources[manifestDigest];
        using var buffer = new MemoryStream();
        await store.ExportAsync(manifestDigest, buffer, _client.GetStore(image.Registry), image);
        return buffer.ToArray();
    }

    // One clear error naming the archive, and nothing published, staged or left behind.
    private static async Task AssertRefusedAsync(SnapshotStore target, byte[] archive)
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => target.ImportAsync(new MemoryStream(archive)));

        Assert.True(error is InvalidDataException or DigestMismatchException, $"{error.GetType().Name}: {error.Message}");
        Assert.Contains("snapshot archive", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
        Assert.Empty(target.List());
        Assert.Equal(0, target.UsedBytes());
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(target.Root, "layers")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(target.Root, "images")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(target.Root, "staging")));
    }
}
