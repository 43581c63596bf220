using Accelerator.Block.Mounting;
using Accelerator.Block.Nbd;
using Accelerator.Block.Tests.Cli;
using Accelerator.Block.Tests.Support;
using Accelerator.Oci;
using Accelerator.Oci.Registry;
using Accelerator.Testing.Images;
using Accelerator.Testing.Trees;
using Accelerator.Testing;
using Accelerator.Testing.Processes;

namespace Accelerator.Block.Tests.Mounting;

/// <summary>
/// The block image format wired in: a converted conformance image (<c>TAG-accel-block</c> in a layout) mounted through
/// <see cref="BlockImageOpener"/> and served over NBD to real clients.
/// </summary>
[Collection(BlockCollection.Name)]
public sealed class BlockImageMountTests(BlockFixture fixture) : IDisposable
{
    private readonly RegistryClient _client = new(new RegistryOptions { PlainHttp = true });
    private readonly string _work = fixture.NewDirectory("image-mount");

    public void Dispose()
    {
        _client.Dispose();
        Directory.Delete(_work, recursive: true);
    }

    private BlockMountOptions Options => new() { StateDirectory = _work, CacheDirectory = Path.Combine(_work, "cache") };

    private BlockMounter NewMounter() => new([new BlockImageOpener(new ImageStoreResolver(_client), Options)], Options);

    private string NewMountPoint() => Directory.CreateDirectory(Path.Combine(_work, "mnt-" + Guid.NewGuid().ToString("N")[..8])).FullName;

    [Fact]
    public async Task MountAsync_SourceTagWithAccelBlockBeside_TreeEqualsUmociUnpack()
    {
        var source = ImageReference.Parse($"oci:{fixture.BlockLayout}:conformance");
        var mounter = NewMounter();
        string mountPoint = NewMountPoint();

        var (canMount, reason) = await mounter.CanMountAsync(source);
        Assert.True(canMount, reason);
        await using (var mounted = await mounter.MountAsync(source, mountPoint, new MountOptions { ReadOnly = true }))
        {
            // The converter keeps ext4's lost+found; everything of the image's tree is kept exactly, timestamps included.
            var differences = TreeSnapshot.Compare(fixture.ReferenceSnapshot, TreeSnapshot.Capture(mountPoint), new TreeCompareOptions { IgnorePath = p => p == "lost+found" });

            Assert.True(differences.Count == 0, "The block image mount differs from umoci's unpack:\n" + string.Join("\n", differences));
            Assert.Equal(Strategy.Block, mounted.Statistics.Strategy);
            Assert.Equal(fixture.Converted.ManifestDigest, mounted.ManifestDigest);
            Assert.True(mounted.Statistics.BytesFetched > 0);
            Assert.True(mounted.Statistics.BytesRead > 0);
        }

        Assert.Empty(Directory.EnumerateFileSystemEntries(mountPoint));
    }

    [Fact]
    public async Task MountAsync_Writable_WritesLandInUpper()
    {
        string mountPoint = NewMountPoint();
        await using var mounted = (BlockMountedImage)await NewMounter().MountAsync(fixture.BlockReference, mountPoint, new MountOptions());

        File.WriteAllText(Path.Combine(mountPoint, ConformancePaths.SmallFile), "changed\n");

        Assert.Equal("changed\n", File.ReadAllText(Path.Combine(mounted.UpperDirectory!, ConformancePaths.SmallFile)));
    }

    [Fact]
    public async Task CanMountAsync_ImageWithoutBlockVariant_FalseWithReason()
    {
        var (canMount, reason) = await NewMounter().CanMountAsync(ImageReference.Parse(fixture.Image.OciReference));

        Assert.False(canMount);
        Assert.Contains("is not a block image", reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NbdServer_BlockImageStack_ClientsReadTheDiskItWasBuiltFrom()
    {
        var statistics = new MountStatistics();
        var opened = await new BlockImageOpener(new ImageStoreResolver(_client), Options).OpenAsync(fixture.BlockReference, null, statistics);
        string socket = Path.Combine(_work, "image.sock");
        string copy = Path.Combine(_work, "copy.raw");
        await using (opened.Disk)
        await using (var server = new NbdServer([new NbdExport("conformance", opened.Disk)]))
        {
            await server.ListenAsync(NbdEndpoint.Unix(socket));
            string uri = $"nbd+unix:///conformance?socket={socket}";

            string info = await Tool.CheckAsync("qemu-img", "info", "--output=json", uri);
            Assert.Contains($"\"virtual-size\": {fixture.Converted.DiskSize}", info, StringComparison.Ordinal);
            await Tool.CheckAsync("nbdcopy", uri, copy);
            await Tool.CheckAsync("qemu-img", "compare", "-f", "raw", "-F", "raw", copy, uri);
        }

        await Tool.CheckAsync("e2fsck", "-f", "-n", copy);
        Assert.True(statistics.BytesFetched > 0);
    }

    [Fact]
    public async Task AccelBlockServe_BlockImageReference_ServesItsDisk()
    {
        string socket = Path.Combine(_work, "cli.sock");
        await using var accel = AccelProcess.Start("block", "serve", fixture.BlockReference.ToString(), "--nbd", "unix:" + socket, "--cache-dir", Path.Combine(_work, "serve-cache"));
        await accel.WaitUntilAsync(() => accel.Output.Contains("Stop with Ctrl+C", StringComparison.Ordinal));

        Assert.Contains($"nbd+unix:///{Path.GetFileName(fixture.BlockLayout)}?socket=", accel.Output, StringComparison.Ordinal);
        string list = await Tool.CheckAsync("nbdinfo", "--list", $"nbd+unix:///?socket={socket}");
        Assert.Contains(fixture.Converted.DiskSize.ToString(System.Globalization.CultureInfo.InvariantCulture), list.Replace(",", string.Empty, StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Equal(0, await accel.TerminateAsync());
    }

    [Fact]
    public async Task AccelMountAuto_SourceWithBlockVariantOnly_MountsWithStrategyBlock()
    {
        string mountPoint = NewMountPoint();
        await using var accel = AccelProcess.Start("mount", $"oci:{fixture.BlockLayout}:conformance", mountPoint, "--read-only", "--cache-dir", Path.Combine(_work, "cli-cache"));
        await accel.WaitUntilAsync(() => accel.Output.Contains("Stop with Ctrl+C", StringComparison.Ordinal));

        Assert.Contains("Strategy lazy skipped", accel.Output, StringComparison.Ordinal);
        Assert.Contains("with strategy block", accel.Output, StringComparison.Ordinal);
        Assert.Equal(ConformancePaths.SmallFileContent, File.ReadAllText(Path.Combine(mountPoint, ConformancePaths.SmallFile)));
        Assert.Equal(0, await accel.TerminateAsync());
        Assert.Empty(Directory.EnumerateFileSystemEntries(mountPoint));
    }
}
