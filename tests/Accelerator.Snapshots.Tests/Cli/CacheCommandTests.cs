using Accelerator.Testing.Samples;
using Accelerator.Snapshots.Tests.Support;
using Accelerator.Testing.Trees;

namespace Accelerator.Snapshots.Tests.Cli;

/// <summary><c>accel cache</c> and <c>accel mount --strategy cache</c> end to end, in-process, against the real registry.</summary>
[Collection(SnapshotCollection.Name)]
public sealed class CacheCommandTests(SnapshotFixture fixture) : IDisposable
{
    private readonly string _work = fixture.NewDirectory("cli");

    public void Dispose() => Directory.Delete(_work, recursive: true);

    private string Root => Path.Combine(_work, "cache");

    private string NewMountPoint() => Directory.CreateDirectory(Path.Combine(_work, "mnt-" + Guid.NewGuid().ToString("N")[..8])).FullName;

    [Fact]
    public async Task Cache_WarmListMountUmountEvict_RoundTrip()
    {
        var (image, reference) = await fixture.SampleAsync("small", new SampleImageOptions { LayerCount = 2, TotalSize = 2L << 20, Seed = 3 });
        string mountPoint = NewMountPoint();

        var warm = await CliRunner.RunAsync("cache", "warm", image.ToString(), "--cache-dir", Root, "--plain-http");
        var list = await CliRunner.RunAsync("cache", "list", "--cache-dir", Root);
        var mount = await CliRunner.RunAsync("cache", "mount", image.ToString(), mountPoint, "--cache-dir", Root, "--plain-http");
        var differences = TreeSnapshot.Compare(reference, TreeSnapshot.Capture(mountPoint));
        var listMounted = await CliRunner.RunAsync("cache", "list", "--cache-dir", Root);
        var evictMounted = await CliRunner.RunAsync("cache", "evict", image.ToString(), "--cache-dir", Root);
        var umount = await CliRunner.RunAsync("umount", mountPoint);
        var evict = await CliRunner.RunAsync("cache", "evict", image.ToString(), "--cache-dir", Root);
        var listEmpty = await CliRunner.RunAsync("cache", "list", "--cache-dir", Root);

        Assert.True(warm.ExitCode == 0, warm.Error);
        Assert.Contains("2 layers fetched", warm.Out);
        Assert.Contains(image.ToString(), list.Out);
        Assert.True(mount.ExitCode == 0, mount.Error);
        Assert.True(differences.Count == 0, string.Join("\n", differences));
        Assert.Contains("yes", listMounted.Out);
        Assert.Equal(1, evictMounted.ExitCode);
        Assert.Contains("mounted", evictMounted.Error);
        Assert.Equal(0, umount.ExitCode);
        Assert.True(evict.ExitCode == 0, evict.Error);
        Assert.Contains("0 snapshots", listEmpty.Out);
    }

    [Fact]
    public async Task Cache_WarmMount60Layers_TreeEqualsUmociUnpack()
    {
        // 60 chain-id layer paths make a lowerdir option of about 8 KB: over the one page mount(2) takes.
        var (image, reference) = await fixture.SampleAsync("sixty", new SampleImageOptions { LayerCount = 60, TotalSize = 3L << 20, Seed = 60 });
        string mountPoint = NewMountPoint();

        var warm = await CliRunner.RunAsync("cache", "warm", image.ToString(), "--cache-dir", Root, "--plain-http");
        var mount = await CliRunner.RunAsync("cache", "mount", image.ToString(), mountPoint, "--cache-dir", Root, "--plain-http");
        var differences = TreeSnapshot.Compare(reference, TreeSnapshot.Capture(mountPoint));
        var umount = await CliRunner.RunAsync("umount", mountPoint);

        Assert.True(warm.ExitCode == 0, warm.Error);
        Assert.Contains("60 layers fetched", warm.Out);
        Assert.True(mount.ExitCode == 0, mount.Error);
        Assert.True(differences.Count == 0, "The clone differs from umoci's unpack:\n" + string.Join("\n", differences.Take(20)));
        Assert.Equal(0, umount.ExitCode);
    }

    [Fact]
    public async Task Cache_ExportToRegistryImportElsewhere_Mounts()
    {
        var (image, reference) = await fixture.SampleAsync("small", new SampleImageOptions { LayerCount = 2, TotalSize = 2L << 20, Seed = 3 });
        string other = Path.Combine(_work, "other");
        string artifact = $"{fixture.Registry.Host}/snapshots/cli:v1";
        string mountPoint = NewMountPoint();

        var warm = await CliRunner.RunAsync("cache", "warm", image.ToString(), "--cache-dir", Root, "--plain-http");
        var export = await CliRunner.RunAsync("cache", "export", image.ToString(), artifact, "--cache-dir", Root, "--plain-http");
        var import = await CliRunner.RunAsync("cache", "import", artifact, "--cache-dir", other, "--plain-http");
        var mount = await CliRunner.RunAsync("cache", "mount", image.ToString(), mountPoint, "--cache-dir", other, "--plain-http");
        var differences = TreeSnapshot.Compare(reference, TreeSnapshot.Capture(mountPoint));
        await CliRunner.RunAsync("umount", mountPoint);

        Assert.True(warm.ExitCode == 0, warm.Error);
        Assert.True(export.ExitCode == 0, export.Error);
        Assert.True(import.ExitCode == 0, import.Error);
        Assert.True(mount.ExitCode == 0, mount.Error);
        Assert.True(differences.Count == 0, string.Join("\n", differences));
    }

    [Fact]
    public async Task Cache_ExportToFileImport_ListsSnapshot()
    {
        var (image, _) = await fixture.SampleAsync("small", new SampleImageOptions { LayerCount = 2, TotalSize = 2L << 20, Seed = 3 });
        string file = Path.Combine(_work, "snap.tar");
        string other = Path.Combine(_work, "other");

        await CliRunner.RunAsync("cache", "warm", image.ToString(), "--cache-dir", Root, "--plain-http");
        // A tree snapshot's archive carries the image's layer blobs, read from its registry.
        var export = await CliRunner.RunAsync("cache", "export", image.ToString(), file, "--cache-dir", Root, "--plain-http");
        var import = await CliRunner.RunAsync("cache", "import", file, "--cache-dir", other);
        var list = await CliRunner.RunAsync("cache", "list", "--cache-dir", other);

        Assert.True(export.ExitCode == 0, export.Error);
        Assert.True(import.ExitCode == 0, import.Error);
        // Only references pinned to the verified digest travel: a tag in an archive is an unchecked claim.
        Assert.Contains(image.Name + "@sha256:", list.Out);
        Assert.DoesNotContain(image.ToString(), list.Out);
    }

    [Fact]
    public async Task Mount_StrategyCache_ServesUntilUmount()
    {
        var (image, reference) = await fixture.SampleAsync("small", new SampleImageOptions { LayerCount = 2, TotalSize = 2L << 20, Seed = 3 });
        string mountPoint = NewMountPoint();
        await CliRunner.RunAsync("cache", "warm", image.ToString(), "--cache-dir", Root, "--plain-http");

        var serving = Task.Run(() => CliRunner.RunAsync("mount", image.ToString(), mountPoint, "--strategy", "cache", "--cache-dir", Root, "--plain-http"));
        while (!serving.IsCompleted && !File.ReadLines("/proc/self/mountinfo").Any(l => l.Contains(" " + mountPoint + " ", StringComparison.Ordinal)))
        {
            await Task.Delay(20);
        }

        var differences = TreeSnapshot.Compare(reference, TreeSnapshot.Capture(mountPoint));
        var umount = await CliRunner.RunAsync("umount", mountPoint);
        var served = await serving;

        Assert.True(differences.Count == 0, string.Join("\n", differences));
        Assert.Equal(0, umount.ExitCode);
        Assert.True(served.ExitCode == 0, served.Error);
        Assert.Contains("with strategy cache", served.Out);
        Assert.Empty(Directory.EnumerateDirectories(Path.Combine(Root, "mounts")));
    }

    [Fact]
    public async Task Cache_MountWithoutSnapshot_OneErrorLine()
    {
        var result = await CliRunner.RunAsync("cache", "mount", fixture.ConformanceReference.ToString(), NewMountPoint(), "--cache-dir", Root, "--plain-http");

        Assert.Equal(1, result.ExitCode);
        Assert.Single(result.Error.Trim().Split('\n'));
        Assert.Contains("No snapshot", result.Error);
    }
}
