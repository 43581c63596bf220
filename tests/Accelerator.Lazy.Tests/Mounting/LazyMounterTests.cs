using Accelerator.Lazy.Conversion;
using Accelerator.Lazy.Format;
using Accelerator.Lazy.Mounting;
using Accelerator.Lazy.Tests.Support;
using Accelerator.Linux;
using Accelerator.Oci.Layout;
using Accelerator.Oci.Registry;
using Accelerator.Testing.Images;
using Accelerator.Testing.Trees;

namespace Accelerator.Lazy.Tests.Mounting;

/// <summary>
/// <see cref="LazyMounter"/> over the conformance image converted beside itself (<c>conformance-accel</c>) in a copy of
/// its layout: tree equality with umoci, fetching only what is read, corruption, unmount with open files, the overlay.
/// </summary>
[Collection(LazyCollection.Name)]
public sealed class LazyMounterTests(LazyFixture fixture) : IDisposable
{
    private readonly RegistryClient _client = new(new RegistryOptions { PlainHttp = true });
    private readonly string _work = fixture.NewDirectory("mounter");

    public void Dispose()
    {
        _client.Dispose();
        Directory.Delete(_work, recursive: true);
    }

    private async Task<ImageReference> ConvertedCopyAsync()
    {
        string layout = Path.Combine(_work, "layout");
        await ExternalTool.RunAsync("cp", ["-a", fixture.Image.LayoutPath, layout]);
        var source = ImageReference.Parse($"oci:{layout}:{fixture.Image.Tag}");
        await LazyMountHarness.ConvertBesideAsync(source);
        return source;
    }

    private string NewMountPoint() => Directory.CreateDirectory(Path.Combine(_work, "mnt-" + Guid.NewGuid().ToString("N")[..8])).FullName;

    [Fact]
    public async Task MountAsync_ReadOnlyConformanceImage_TreeEqualsUmociUnpack()
    {
        var source = await ConvertedCopyAsync();
        var mounter = LazyMountHarness.CreateMounter(_client, _work);
        string mountPoint = NewMountPoint();

        await using (var mounted = await mounter.MountAsync(source, mountPoint, new MountOptions { ReadOnly = true }))
        {
            var differences = TreeSnapshot.Compare(fixture.ReferenceSnapshot, TreeSnapshot.Capture(mountPoint));

            Assert.True(differences.Count == 0, "The lazy mount differs from umoci's unpack:\n" + string.Join("\n", differences));
            Assert.Equal(Strategy.Lazy, mounted.Statistics.Strategy);
            Assert.True(mounted.Statistics.TimeToReady > TimeSpan.Zero);
        }

        Assert.Empty(Directory.EnumerateFileSystemEntries(mountPoint));
    }

    [Fact]
    public async Task CanMountAsync_SourceWithAccelVariant_True()
    {
        var source = await ConvertedCopyAsync();
        var mounter = LazyMountHarness.CreateMounter(_client, _work);

        var (canMount, reason) = await mounter.CanMountAsync(source);

        Assert.True(canMount, reason);
    }

    [Fact]
    public async Task CanMountAsync_ImageWithoutLazyVariant_FalseWithReason()
    {
        var mounter = LazyMountHarness.CreateMounter(_client, _work);

        var (canMount, reason) = await mounter.CanMountAsync(ImageReference.Parse(fixture.Image.OciReference));

        Assert.False(canMount);
        Assert.Contains("conformance-accel", reason);
        Assert.Contains("not seekable: none of its 3 layers has a seekable index", reason);
    }

    [Fact]
    public async Task Read_OneFile_FetchesOnlyItsChunks()
    {
        var source = await ConvertedCopyAsync();
        var mounter = LazyMountHarness.CreateMounter(_client, _work);
        var lazy = await LazyImage.LoadAsync(OciImageLayout.Open(source.LayoutPath!), LazyConverter.DefaultTarget(source));
        var entry = lazy.Bootstrap.LookupPath(ConformancePaths.LargeFile)!;
        var chunks = lazy.Bootstrap.GetChunks(entry.Inode).DistinctBy(c => c.ChunkDigest).ToList();
        long dataBytes = lazy.Bootstrap.Blobs.Sum(b => b.Size);
        string mountPoint = NewMountPoint();
        await using var mounted = await mounter.MountAsync(source, mountPoint, new MountOptions { ReadOnly = true });

        byte[] content = await File.ReadAllBytesAsync(Path.Combine(mountPoint, ConformancePaths.LargeFile));

        Assert.Equal(ConformancePaths.LargeFileSize, content.Length);
        Assert.Equal(chunks.Count, mounted.Statistics.ChunksFetched);
        Assert.Equal(chunks.Sum(c => (long)c.CompressedSize), mounted.Statistics.BytesFetchedBySource["layout"]);
        Assert.True(mounted.Statistics.BytesFetched < dataBytes, $"fetched {mounted.Statistics.BytesFetched} of {dataBytes}");
    }

    [Fact]
    public async Task Read_CorruptedChunk_ReaderGetsEio()
    {
        var source = await ConvertedCopyAsync();
        var lazy = await LazyImage.LoadAsync(OciImageLayout.Open(source.LayoutPath!), LazyConverter.DefaultTarget(source));
        var chunk = lazy.Bootstrap.GetChunks(lazy.Bootstrap.LookupPath(ConformancePaths.LargeFile)!.Inode)[0];
        string blobPath = Path.Combine(source.LayoutPath!, "blobs", "sha256", chunk.Blob.Encoded);
        using (var blob = new FileStream(blobPath, FileMode.Open, FileAccess.ReadWrite))
        {
            blob.Position = chunk.CompressedOffset + (chunk.CompressedSize / 2);
            int value = blob.ReadByte();
            blob.Position--;
            blob.WriteByte((byte)(value ^ 0xFF));
        }

        var mounter = LazyMountHarness.CreateMounter(_client, _work);
        string mountPoint = NewMountPoint();
        await using var mounted = await mounter.MountAsync(source, mountPoint, new MountOptions { ReadOnly = true });

        var error = Assert.ThrowsAny<IOException>(() => File.ReadAllBytes(Path.Combine(mountPoint, ConformancePaths.LargeFile)));

        Assert.Equal(5, error.HResult); // EIO
        Assert.Equal(ConformancePaths.SmallFileContent, await File.ReadAllTextAsync(Path.Combine(mountPoint, ConformancePaths.SmallFile)));
    }

    [Fact]
    public async Task DisposeAsync_FileStillOpen_UnmountsAndRemovesPrivateDirectories()
    {
        var source = await ConvertedCopyAsync();
        string state = Path.Combine(_work, "state");
        var mounter = LazyMountHarness.CreateMounter(_client, _work);
        string mountPoint = NewMountPoint();
        var mounted = (LazyMountedImage)await mounter.MountAsync(source, mountPoint, new MountOptions());
        using var open = new FileStream(Path.Combine(mountPoint, ConformancePaths.LargeFile), FileMode.Open, FileAccess.Read);
        Assert.Equal(1, open.Read(new byte[1], 0, 1));

        await mounted.DisposeAsync();

        Assert.False(MountTable.IsMountPoint(mountPoint));
        Assert.False(MountTable.IsMountPoint(mounted.FuseMountPoint));
        Assert.Empty(Directory.EnumerateFileSystemEntries(state));
    }

    [Fact]
    public async Task MountAsync_Writable_WritesLandInUpperAndLowerIsUntouched()
    {
        var source = await ConvertedCopyAsync();
        var mounter = LazyMountHarness.CreateMounter(_client, _work);
        string mountPoint = NewMountPoint();
        await using var mounted = (LazyMountedImage)await mounter.MountAsync(source, mountPoint, new MountOptions());

        await File.WriteAllTextAsync(Path.Combine(mountPoint, "new-file"), "written\n");
        await File.AppendAllTextAsync(Path.Combine(mountPoint, ConformancePaths.SmallFile), "appended\n");

        Assert.Equal("written\n", await File.ReadAllTextAsync(Path.Combine(mounted.UpperDirectory!, "new-file")));
        Assert.Equal(ConformancePaths.SmallFileContent + "appended\n", await File.ReadAllTextAsync(Path.Combine(mounted.UpperDirectory!, ConformancePaths.SmallFile)));
        Assert.Equal(ConformancePaths.SmallFileContent + "appended\n", await File.ReadAllTextAsync(Path.Combine(mountPoint, ConformancePaths.SmallFile)));
        Assert.Equal(ConformancePaths.SmallFileContent, await File.ReadAllTextAsync(Path.Combine(mounted.FuseMountPoint, ConformancePaths.SmallFile)));
        Assert.False(File.Exists(Path.Combine(mounted.FuseMountPoint, "new-file")));
    }
}
