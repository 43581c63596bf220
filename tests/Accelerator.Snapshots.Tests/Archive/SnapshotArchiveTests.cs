using Accelerator.Oci.Registry;
using Accelerator.Testing.Samples;
using Accelerator.Snapshots.Tests.Support;
using Accelerator.Testing.Fuzzing;
using Accelerator.Testing.Trees;

namespace Accelerator.Snapshots.Tests.Archive;

/// <summary>Export and import of snapshots: through a file and through the registry; corrupt and hostile archives.</summary>
[Collection(SnapshotCollection.Name)]
public sealed class SnapshotArchiveTests(SnapshotFixture fixture) : IDisposable
{
    private readonly RegistryClient _client = new(new RegistryOptions { PlainHttp = true });
    private readonly string _work = fixture.NewDirectory("archive");

    public void Dispose()
    {
        _client.Dispose();
        Directory.Delete(_work, recursive: true);
    }

    private SnapshotStore OpenStore(string name) => SnapshotStore.Open(new SnapshotStoreOptions { Root = Path.Combine(_work, name) });

    private string NewMountPoint() => Directory.CreateDirectory(Path.Combine(_work, "mnt-" + Guid.NewGuid().ToString("N")[..8])).FullName;

    private async Task<byte[]> ExportSmallAsync()
    {
        var (image, _) = await fixture.SampleAsync("small", new SampleImageOptions { LayerCount = 2, TotalSize = 2L << 20, Seed = 3 });
        var source = OpenStore("source-" + Guid.NewGuid().ToString("N")[..6]);
        var warmed = await source.WarmAsync(_client.GetStore(image.Registry), image);
        using var buffer = new MemoryStream();
        await source.ExportAsync(warmed.Snapshot.ManifestDigest, buffer, _client.GetStore(image.Registry), image);
        return buffer.ToArray();
    }

    [Fact]
    public async Task ExportAsync_ImportAsync_ConformanceImage_CloneEqualsUmociUnpack()
    {
        var image = fixture.ConformanceReference;
        var source = OpenStore("source");
        var warmed = await source.WarmAsync(_client.GetStore(image.Registry), image);
        string file = Path.Combine(_work, "snapshot.tar");
        Descriptor blob;
        await using (var output = File.Create(file))
        {
            blob = await source.ExportAsync(warmed.Snapshot.ManifestDigest, output, _client.GetStore(image.Registry), image);
        }

        var target = OpenStore("target");
        SnapshotInfo imported;
        await using (var input = File.OpenRead(file))
        {
            imported = await target.ImportAsync(input);
        }

        string mountPoint = NewMountPoint();
        await using (await target.MountAsync(imported.ManifestDigest, image, mountPoint))
        {
            var differences = TreeSnapshot.Compare(fixture.ReferenceSnapshot, TreeSnapshot.Capture(mountPoint));
            Assert.True(differences.Count == 0, "The imported clone differs from umoci's unpack:\n" + string.Join("\n", differences));
        }

        Assert.Equal(warmed.Snapshot.ManifestDigest, imported.ManifestDigest);
        Assert.Equal(warmed.Snapshot.ChainIds, imported.ChainIds);
        Assert.Equal(new FileInfo(file).Length, blob.Size);
        await using (var input = File.OpenRead(file))
        {
            Assert.Equal(blob.Digest, await Digest.ComputeAsync(input));
        }
    }

    [Fact]
    public async Task PushAsync_PullAsync_ThroughRegistry_MountsOnOtherStore()
    {
        var (image, reference) = await fixture.SampleAsync("small", new SampleImageOptions { LayerCount = 2, TotalSize = 2L << 20, Seed = 3 });
        var source = OpenStore("push");
        var warmed = await source.WarmAsync(_client.GetStore(image.Registry), image);
        var artifact = ImageReference.Parse($"{fixture.Registry.Host}/snapshots/small:v1");

        await source.PushAsync(warmed.Snapshot.ManifestDigest, _client.GetStore(artifact.Registry), artifact, _client.GetStore(image.Registry));
        var target = OpenStore("pull");
        var imported = await target.PullAsync(_client.GetStore(artifact.Registry), artifact);

        string mountPoint = NewMountPoint();
        await using (await target.MountAsync(_client.GetStore(image.Registry), image, mountPoint, new SnapshotMountOptions { TopUp = false }))
        {
            var differences = TreeSnapshot.Compare(reference, TreeSnapshot.Capture(mountPoint));
            Assert.True(differences.Count == 0, string.Join("\n", differences));
        }

        Assert.Equal(warmed.Snapshot.ManifestDigest, imported.ManifestDigest);
    }

    [Fact]
    public async Task ImportAsync_CorruptLayerByte_ThrowsAndPublishesNothing()
    {
        byte[] archive = await ExportSmallAsync();
        // Past the header and the first layer's tar headers: file content of the first layer.
        archive[archive.Length / 4] ^= 0x5A;
        var target = OpenStore("corrupt");

        await Assert.ThrowsAnyAsync<Exception>(() => target.ImportAsync(new MemoryStream(archive)));

        Assert.Empty(target.List());
        Assert.Equal(0, target.UsedBytes());
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(target.Root, "staging")));
    }

    [Fact]
    public async Task ImportAsync_RandomAndMutatedArchives_CleanErrorOrCorrectSnapshot()
    {
        byte[] seed = await ExportSmallAsync();
        var random = new Random(1234);
        var target = OpenStore("fuzz");
        for (int i = 0; i < 60; i++)
        {
            byte[] input = i % 3 == 0 ? FuzzInput.RandomBytes(random, 4096) : FuzzInput.Mutate(seed.AsSpan(0, Math.Min(seed.Length, i % 2 == 0 ? 4096 : seed.Length)), random);
            try
            {
                var imported = await target.ImportAsync(new MemoryStream(input));
                // Accepted: then it must be the real snapshot, intact.
                Assert.Equal(2, imported.ChainIds.Count);
                await target.EvictAsync(imported.ManifestDigest);
            }
            catch (Exception ex) when (ex is InvalidDataException or DigestMismatchException or FormatException or ContentTooLargeException or EndOfStreamException or IOException)
            {
            }
        }

        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(target.Root, "staging")));
    }
}
