using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using Accelerator.Lazy.Mounting;
using Accelerator.Linux;
using Accelerator.Oci.Layers;
using Accelerator.Seekable;
using Accelerator.Seekable.Index;
using Accelerator.Testing.Processes;
using Accelerator.Testing.Registry;
using Accelerator.Testing.Trees;

namespace Accelerator.IntegrationTests.Seekable;

/// <summary>
/// The lazy strategy mounting an image nobody converted (issue 16): the layered Debian image with a seekable index in
/// a real docker-registry, mounted by <c>accel mount --strategy lazy</c> and by the facade — the tree equals umoci's
/// unpack, a read fetches only the span holding the file, a span changed at the registry is an EIO and nothing is
/// cached, an image with a big layer and no index falls back with the reason, and a second <c>accel mount</c> takes
/// the seekable mount over.
/// </summary>
public sealed partial class SeekableMountTests(SeekableImageFixture fixture) : IClassFixture<SeekableImageFixture>
{
    private HashSet<string> _upperPaths = [];

    [Fact]
    public async Task AccelMount_IndexedImage_TreeEqualsUmociAndStatisticsSaySeekable()
    {
        string work = fixture.NewDirectory("cli");
        string mountPoint = Directory.CreateDirectory(Path.Combine(work, "rootfs")).FullName;
        string stats = Path.Combine(work, "stats.json");
        await using var server = AccelProcess.Start(
            "mount", "--plain-http", fixture.Indexed.ToString(), mountPoint, "--strategy", "lazy", "--no-takeover",
            "--cache-dir", Path.Combine(work, "cache"), "--state-dir", Path.Combine(work, "state"), "--stats-json", stats);
        await server.WaitForOutputAsync("Mounted ", TimeSpan.FromMinutes(2));

        var differences = TreeSnapshot.Compare(fixture.Expected, TreeSnapshot.Capture(mountPoint));

        Assert.True(differences.Count == 0, "the seekable mount differs from umoci's unpack:\n" + string.Join("\n", differences.Take(50)));
        var (code, _, error) = await AccelProcess.RunAsync("umount", mountPoint);
        Assert.True(code == 0, error);
        Assert.Equal(0, await server.WaitForExitAsync());
        Assert.Contains("with strategy lazy", server.Output, StringComparison.Ordinal);
        using var json = JsonDocument.Parse(await File.ReadAllBytesAsync(stats));
        JsonElement lazy = json.RootElement.GetProperty("lazy");
        Assert.Equal("seekable", lazy.GetProperty("source").GetString());
        Assert.StartsWith("referrers", lazy.GetProperty("index").GetProperty("found").GetString(), StringComparison.Ordinal);
        var layers = lazy.GetProperty("layers").EnumerateArray().Select(l => (Format: l.GetProperty("format").GetString(), Source: l.GetProperty("source").GetString())).ToList();
        Assert.Equal([("gzip-index", "index"), ("gzip-index", "index"), ("gzip-index", "whole")], layers);
        Assert.True(json.RootElement.GetProperty("bytesRead").GetInt64() > 0);
    }

    [Fact]
    public async Task Read_OneFile_FetchesOnlyTheSpanHoldingIt()
    {
        var (layer, index) = await BaseLayerIndexAsync();
        var (path, unit) = FilesInOneUnit(index, 64 << 10, 128 << 10).First();
        await using var mount = await MountAsync("one-file");
        long logMark = fixture.Registry.ReadLog().Length;
        long fetchedBefore = LayerStatistics(mount, 0).BytesFetched;

        byte[] content = await File.ReadAllBytesAsync(Path.Combine(mount.MountPoint, path));

        Assert.Equal(fixture.Expected[path].Sha256, Convert.ToHexStringLower(SHA256.HashData(content)));
        Assert.Equal(index.Units[unit].CompressedLength, LayerStatistics(mount, 0).BytesFetched - fetchedBefore);
        // docker-registry logs a request once its response is written, which may be after our read returned.
        var gets = BlobGets(fixture.Registry.ReadLog()[(int)logMark..]);
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (gets.Sum(g => g.Written) < index.Units[unit].CompressedLength && !wait.IsCancellationRequested)
        {
            await Task.Delay(100);
            gets = BlobGets(fixture.Registry.ReadLog()[(int)logMark..]);
        }

        Assert.NotEmpty(gets);
        Assert.All(gets, g => Assert.True(g.Digest == layer.Digest.ToString() && g.Status == 206, $"a GET other than a ranged one of the base layer: {g.Line}"));
        Assert.Equal(index.Units[unit].CompressedLength, gets.Sum(g => g.Written));
    }

    [Fact]
    public async Task Read_SpanChangedAtRegistry_EioOtherFilesServedNothingCached()
    {
        var (layer, index) = await BaseLayerIndexAsync();
        var files = FilesInOneUnit(index, 1, 1 << 20).ToList();
        var (damaged, unit) = files.First(f => f.Unit > 0 && f.Unit < index.Units.Count - 1);
        var (intact, _) = files.First(f => Math.Abs(f.Unit - unit) > 1);
        await using var mount = await MountAsync("tampered");
        string blobFile = fixture.BlobFile(layer.Digest);
        SeekableUnit span = index.Units[unit];
        long position = span.CompressedOffset + (span.CompressedLength / 2);
        byte original = ReadByte(blobFile, position);
        WriteByte(blobFile, position, (byte)(original ^ 0x5a));
        try
        {
            await Assert.ThrowsAnyAsync<IOException>(() => File.ReadAllBytesAsync(Path.Combine(mount.MountPoint, damaged)));
            Assert.Equal(fixture.Expected[intact].Sha256, Sha256Of(Path.Combine(mount.MountPoint, intact)));
        }
        finally
        {
            WriteByte(blobFile, position, original);
        }

        Assert.Equal(fixture.Expected[damaged].Sha256, Sha256Of(Path.Combine(mount.MountPoint, damaged)));
    }

    [Fact]
    public async Task MountAsync_VerifyIndexedLayers_HonestIndexVerifiedAndReadsServed()
    {
        var (_, index) = await BaseLayerIndexAsync();
        var (path, _) = FilesInOneUnit(index, 1, 1 << 20).First();
        await using var mount = await MountAsync("verify", verify: true);

        await mount.Mounted.PrefetchCompletion;

        Assert.Equal("verified", mount.Mounted.LazyStatistics.IndexVerification);
        Assert.Equal([1L, 1L, 1L], mount.Mounted.LazyStatistics.Layers.Select(l => l.WholeReads));
        Assert.Equal(fixture.Expected[path].Sha256, Sha256Of(Path.Combine(mount.MountPoint, path)));
    }

    [Fact]
    public async Task Mount_BigLayerWithoutIndex_LazySaysWhyAndTheFacadeFallsBack()
    {
        string work = fixture.NewDirectory("fallback");
        string mountPoint = Path.Combine(work, "rootfs");
        var builder = new ImageAcceleratorBuilder()
            .AddRegistry(fixture.Registry.Host, r => r.PlainHttp = true)
            .ConfigureRegistries(r => r.DockerConfigPath = TestRegistryOptions.NoDockerConfig)
            .PreferStrategies(Strategy.Lazy, Strategy.Full)
            .UseLazyMount(l =>
            {
                l.CacheDirectory = Path.Combine(work, "cache");
                l.StateDirectory = Path.Combine(work, "state");
            })
            .UseFullPull();
        await using var accelerator = builder.Build();

        await using var mounted = await accelerator.MountAsync(fixture.Unindexed, mountPoint);

        Assert.Equal(Strategy.Full, mounted.Statistics.Strategy);
        var (strategy, reason) = Assert.Single(mounted.Statistics.Fallbacks);
        Assert.Equal(Strategy.Lazy, strategy);
        var manifest = await fixture.Client.GetStore(fixture.Unindexed.Registry).GetManifestAsync(fixture.Unindexed);
        string baseLayer = manifest.Manifest!.Layers[0].Digest.ToString();
        Assert.Contains($"layer 0 {baseLayer}", reason, StringComparison.Ordinal);
        Assert.Contains("tar+gzip) has no seekable index", reason, StringComparison.Ordinal);
        Assert.Contains("run accel index", reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AccelMount_AgainAtTheSameMountPoint_TakesTheSeekableMountOverAndReadsGoOn()
    {
        var (_, index) = await BaseLayerIndexAsync();
        var files = FilesInOneUnit(index, 1, 1 << 20).Take(3).Select(f => f.Path).ToList();
        string work = fixture.NewDirectory("takeover");
        string mountPoint = Directory.CreateDirectory(Path.Combine(work, "rootfs")).FullName;
        string[] args = ["mount", "--plain-http", fixture.Indexed.ToString(), mountPoint, "--strategy", "lazy",
            "--cache-dir", Path.Combine(work, "cache"), "--state-dir", Path.Combine(work, "state"), "--holder-dir", Path.Combine(work, "holder")];
        await using var first = AccelProcess.Start(args);
        await first.WaitForOutputAsync("Mounted ", TimeSpan.FromMinutes(2));
        Assert.Equal(fixture.Expected[files[0]].Sha256, Sha256Of(Path.Combine(mountPoint, files[0])));
        using var handle = File.OpenHandle(Path.Combine(mountPoint, files[1]));
        try
        {
            await using var second = AccelProcess.Start(args);
            await second.WaitForOutputAsync("Mounted ", TimeSpan.FromMinutes(2));
            Assert.Equal(0, await first.WaitForExitAsync());
            Assert.Contains("Handed " + mountPoint + " over", first.Output, StringComparison.Ordinal);

            foreach (string file in files)
            {
                Assert.Equal(fixture.Expected[file].Sha256, Sha256Of(Path.Combine(mountPoint, file)));
            }

            var buffer = new byte[(int)Math.Min(4096, fixture.Expected[files[1]].Size)];
            Assert.Equal(buffer.Length, RandomAccess.Read(handle, buffer, 0));
            var (code, _, error) = await AccelProcess.RunAsync("umount", mountPoint, "--holder-dir", Path.Combine(work, "holder"));
            Assert.True(code == 0, error);
            Assert.Equal(0, await second.WaitForExitAsync());
        }
        finally
        {
            handle.Dispose();
            foreach (string mount in MountTable.MountPointsUnder(MountTable.Read(), work))
            {
                _ = await AccelProcess.RunAsync("umount", mount, "--holder-dir", Path.Combine(work, "holder"));
            }
        }

        Assert.False(MountTable.IsMountPoint(mountPoint));
    }

    [Fact]
    public async Task AccelIndexThenMount_PrivateRegistryWithHtpasswd_TreeEqualsUmoci()
    {
        const string User = "accel-seekable", Password = "seekable-secret";
        string work = fixture.NewDirectory("private");
        await using var registry = await DockerRegistryProcess.StartAsync(new DockerRegistryOptions { HtpasswdUsers = new Dictionary<string, string> { [User] = Password } });
        string authFile = Path.Combine(work, "config.json");
        string auth = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{User}:{Password}"));
        await File.WriteAllTextAsync(authFile, JsonSerializer.Serialize(new Dictionary<string, object> { ["auths"] = new Dictionary<string, object> { [registry.Host] = new { auth } } }));
        var image = ImageReference.Parse($"{registry.Host}/private/layered:{fixture.Image.Tag}");
        await Accelerator.Testing.Images.ExternalTool.RunAsync("skopeo",
            ["copy", "--quiet", "--dest-tls-verify=false", "--dest-creds", $"{User}:{Password}", fixture.Image.OciReference, $"docker://{image}"]);
        var (indexCode, indexOutput, indexError) = await AccelProcess.RunAsync("--plain-http", "--auth-file", authFile, "index", image.ToString());
        Assert.True(indexCode == 0, indexOutput + indexError);
        string mountPoint = Directory.CreateDirectory(Path.Combine(work, "rootfs")).FullName;
        string stats = Path.Combine(work, "stats.json");
        await using var server = AccelProcess.Start(
            "--plain-http", "--auth-file", authFile, "mount", image.ToString(), mountPoint, "--strategy", "lazy", "--read-only", "--no-takeover",
            "--cache-dir", Path.Combine(work, "cache"), "--state-dir", Path.Combine(work, "state"), "--stats-json", stats);
        await server.WaitForOutputAsync("Mounted ", TimeSpan.FromMinutes(2));

        var differences = TreeSnapshot.Compare(fixture.Expected, TreeSnapshot.Capture(mountPoint));

        Assert.True(differences.Count == 0, "the private seekable mount differs from umoci's unpack:\n" + string.Join("\n", differences.Take(50)));
        var (code, _, error) = await AccelProcess.RunAsync("umount", mountPoint);
        Assert.True(code == 0, error);
        Assert.Equal(0, await server.WaitForExitAsync());
        using var json = JsonDocument.Parse(await File.ReadAllBytesAsync(stats));
        Assert.Equal("seekable", json.RootElement.GetProperty("lazy").GetProperty("source").GetString());
        Assert.Contains(registry.ReadLog().Split('\n'), line => line.Contains("/referrers/", StringComparison.Ordinal) || line.Contains("/manifests/sha256-", StringComparison.Ordinal));
    }

    // The facade with the lazy strategy only, a fresh cache, no prefetch unless asked; disposing the result unmounts.
    private async Task<FacadeMount> MountAsync(string name, bool verify = false, ImageReference? image = null, bool prefetch = false)
    {
        string work = fixture.NewDirectory(name);
        string mountPoint = Directory.CreateDirectory(Path.Combine(work, "rootfs")).FullName;
        var accelerator = new ImageAcceleratorBuilder()
            .AddRegistry(fixture.Registry.Host, r => r.PlainHttp = true)
            .ConfigureRegistries(r => r.DockerConfigPath = TestRegistryOptions.NoDockerConfig)
            .PreferStrategies(Strategy.Lazy)
            .UseLazyMount(l =>
            {
                l.CacheDirectory = Path.Combine(work, "cache");
                l.StateDirectory = Path.Combine(work, "state");
                l.Prefetch = prefetch;
                l.RequestTimeout = TimeSpan.FromSeconds(30);
                l.VerifyIndexedLayers = verify;
            })
            .Build();
        try
        {
            var mounted = (LazyMountedImage)await accelerator.MountAsync(image ?? fixture.Indexed, mountPoint);
            Assert.Equal(MountStatistics.SeekableSource, mounted.Statistics.Source);
            return new FacadeMount(accelerator, mounted);
        }
        catch
        {
            await accelerator.DisposeAsync();
            throw;
        }
    }

    private static Accelerator.Lazy.Statistics.LazyLayerStatistics LayerStatistics(FacadeMount mount, int layer) => mount.Mounted.LazyStatistics.Layers[layer];

    // The base layer's index from the artifact; the paths the packages layer (also indexed) holds are noted, since the
    // merged image shows its version of them.
    private async Task<(Descriptor Layer, SeekableLayerIndex Index)> BaseLayerIndexAsync()
    {
        var store = fixture.Client.GetStore(fixture.Indexed.Registry);
        var manifest = await store.GetManifestAsync(fixture.Indexed);
        var (artifact, description) = await SeekableIndexFinder.FindAsync(store, fixture.Indexed, manifest.Descriptor);
        Assert.True(artifact is not null, description);
        Descriptor layer = manifest.Manifest!.Layers[0];
        var index = await artifact.ReadLayerIndexAsync(layer);
        Assert.NotNull(index);
        var packages = await artifact.ReadLayerIndexAsync(manifest.Manifest.Layers[1]);
        Assert.NotNull(packages);
        _upperPaths = [.. packages.Entries.Select(e => Normalize(e.Header.Path))];
        return (layer, index);
    }

    // Regular files of the base layer that the merged image shows unchanged, whose content lies in one unit, with a size
    // in [min, max).
    private IEnumerable<(string Path, int Unit)> FilesInOneUnit(SeekableLayerIndex index, long min, long max)
    {
        foreach (SeekableEntry entry in index.Entries)
        {
            TarEntryHeader header = entry.Header;
            if (header.Kind != TarEntryKind.RegularFile || header.Size < min || header.Size >= max)
            {
                continue;
            }

            string path = Normalize(header.Path);
            int first = index.FindUnit(entry.DataOffset), last = index.FindUnit(entry.DataOffset + header.Size - 1);
            if (first < 0 || first != last || fixture.Expected.Find(path) is not { Sha256: not null } expected || expected.Size != header.Size
                || (expected.Permissions & 0x4) == 0 || _upperPaths.Contains(path))
            {
                continue;
            }

            yield return (path, first);
        }
    }

    private static string Normalize(string tarPath) => (tarPath.StartsWith("./", StringComparison.Ordinal) ? tarPath[2..] : tarPath).Trim('/');

    private static string Sha256Of(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    private static byte ReadByte(string path, long position)
    {
        using var handle = File.OpenHandle(path);
        var one = new byte[1];
        RandomAccess.Read(handle, one, position);
        return one[0];
    }

    private static void WriteByte(string path, long position, byte value)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
        RandomAccess.Write(handle, new[] { value }, position);
    }

    // docker-registry's "response completed" lines of blob GETs: the blob, the status, the bytes written.
    private static List<(string Digest, int Status, long Written, string Line)> BlobGets(string log)
    {
        var gets = new List<(string, int, long, string)>();
        foreach (string line in log.Split('\n'))
        {
            if (!line.Contains("response completed", StringComparison.Ordinal) || !line.Contains("http.request.method=GET", StringComparison.Ordinal)
                || BlobUri().Match(line) is not { Success: true } blob)
            {
                continue;
            }

            int status = int.Parse(Status().Match(line).Groups[1].Value, CultureInfo.InvariantCulture);
            long written = Written().Match(line) is { Success: true } w ? long.Parse(w.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
            gets.Add((blob.Groups[1].Value, status, written, line));
        }

        return gets;
    }

    [GeneratedRegex(@"/blobs/(sha256:[0-9a-f]{64})")]
    private static partial Regex BlobUri();

    [GeneratedRegex(@"http\.response\.status=(\d+)")]
    private static partial Regex Status();

    [GeneratedRegex(@"http\.response\.written=(\d+)")]
    private static partial Regex Written();

    private sealed class FacadeMount(IAsyncDisposable accelerator, LazyMountedImage mounted) : IAsyncDisposable
    {
        public LazyMountedImage Mounted => mounted;

        public string MountPoint => mounted.MountPoint;

        public async ValueTask DisposeAsync()
        {
            await mounted.DisposeAsync();
            await accelerator.DisposeAsync();
        }
    }
}
