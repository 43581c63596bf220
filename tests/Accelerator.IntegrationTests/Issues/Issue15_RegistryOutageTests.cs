using Accelerator.IntegrationTests.Cli;
using Accelerator.Linux;
using Accelerator.Testing.Images;
using Accelerator.Testing.Processes;
using Accelerator.Testing.Registry;

namespace Accelerator.IntegrationTests.Issues;

/// <summary>
/// Issue 15, registry outages: a lazy and a block mount served by the real <c>accel mount --fetch-timeout</c> keep
/// serving what they cached while the registry is stopped (connection refused) or hung (a listener that accepts and
/// never answers); a read of data not cached yet fails with EIO instead of hanging, the error log says the registry is
/// unreachable, and the very same read succeeds, with the right bytes, as soon as the registry is back on its port.
/// </summary>
public sealed class Issue15_RegistryOutageTests(Issue15_RegistryOutageTests.OutageFixture fixture)
    : IClassFixture<Issue15_RegistryOutageTests.OutageFixture>, IDisposable
{
    // The fetch bound given to accel; the reads below are only bounded by the test's own generous timeout.
    private const string FetchTimeout = "3s";
    private static readonly TimeSpan ReadLimit = TimeSpan.FromSeconds(90);

    // Cached before the outage: the start of the large file. Not cached: a page near its end (other chunks and blocks).
    private const long CachedOffset = 0;
    private const long UncachedOffset = 341 * 4096;
    private const int Length = 4096;

    private readonly string _work = Directory.CreateTempSubdirectory("accel-issue15-outage-").FullName;

    public void Dispose()
    {
        foreach (string mountPoint in Directory.EnumerateDirectories(_work, "mnt*"))
        {
            if (MountTable.IsMountPoint(mountPoint))
            {
                FileSystemMount.Unmount(mountPoint);
            }
        }

        Directory.Delete(_work, recursive: true);
    }

    [Theory]
    [InlineData("lazy")]
    [InlineData("block")]
    public async Task Mount_RegistryStoppedThenHungThenBack_CachedReadsServeUncachedFailWithEioThenSucceed(string strategy)
    {
        var registry = fixture.Registry;
        string mountPoint = Directory.CreateDirectory(Path.Combine(_work, "mnt-" + strategy)).FullName;
        string large = Path.Combine(mountPoint, ConformancePaths.LargeFile);
        string small = Path.Combine(mountPoint, ConformancePaths.SmallFile);
        await using var accel = AccelProcess.Start(
            "mount", "--plain-http", fixture.Reference.ToString(), mountPoint, "--strategy", strategy, "--read-only",
            "--cache-dir", Path.Combine(_work, "cache-" + strategy), "--fetch-timeout", FetchTimeout);
        try
        {
            await accel.WaitForOutputAsync("Stop with Ctrl+C", TimeSpan.FromSeconds(60));
            Assert.Equal(ConformancePaths.SmallFileContent, await File.ReadAllTextAsync(small));
            Assert.Equal(fixture.Expected(CachedOffset, Length), await ReadAsync(large, CachedOffset));

            // Stopped: connections are refused. What was read is served from the cache (the kernel's copy dropped).
            await registry.StopAsync();
            await DropPageCacheAsync(small);
            await DropPageCacheAsync(large);
            Assert.Equal(ConformancePaths.SmallFileContent, await File.ReadAllTextAsync(small));
            Assert.Equal(fixture.Expected(CachedOffset, Length), await ReadAsync(large, CachedOffset));
            var refused = await Assert.ThrowsAsync<IOException>(() => ReadAsync(large, UncachedOffset));
            Assert.Contains("Input/output error", refused.Message, StringComparison.Ordinal);

            // Hung: the port accepts and never answers; the read still ends with EIO, it does not hang.
            using (var hung = SilentListener.Start(registry.Host))
            {
                var silent = await Assert.ThrowsAsync<IOException>(() => ReadAsync(large, UncachedOffset));
                Assert.Contains("Input/output error", silent.Message, StringComparison.Ordinal);
                Assert.True(hung.Accepted > 0, "The hung registry was never asked.");
                Assert.Equal(fixture.Expected(CachedOffset, Length), await ReadAsync(large, CachedOffset));
            }

            // Back on the same port: the same read succeeds at once (nothing failed was remembered).
            await registry.RestartAsync();
            Assert.Equal(fixture.Expected(UncachedOffset, Length), await ReadAsync(large, UncachedOffset));
            Assert.Contains("unreachable", accel.Error, StringComparison.Ordinal);

            Assert.Equal(0, await accel.TerminateAsync());
        }
        finally
        {
            if (!registry.IsRunning)
            {
                await registry.RestartAsync();
            }
        }
    }

    // One pread through the mount, on a thread of its own; a read that would hang fails the test after ReadLimit.
    private static Task<byte[]> ReadAsync(string path, long offset)
        => Task.Run(() =>
        {
            using var handle = File.OpenHandle(path);
            var buffer = new byte[Length];
            int read = RandomAccess.Read(handle, buffer, offset);
            return buffer[..read];
        }).WaitAsync(ReadLimit);

    // posix_fadvise(DONTNEED) on the whole file (dd's documented "iflag=nocache count=0"): the next read reaches the
    // mount's own cache instead of the kernel's page cache.
    private static async Task DropPageCacheAsync(string path)
    {
        using var dd = System.Diagnostics.Process.Start("dd", [$"if={path}", "of=/dev/null", "iflag=nocache", "count=0", "status=none"])!;
        await dd.WaitForExitAsync();
        Assert.Equal(0, dd.ExitCode);
    }

    /// <summary>
    /// A registry of this class only (it is stopped and restarted) holding the conformance image, converted with 64 KiB
    /// chunks to its lazy variant and to its block variant, and umoci's unpack of it for the expected bytes.
    /// </summary>
    public sealed class OutageFixture : IAsyncLifetime
    {
        private const string Repository = "outage/conformance";
        private readonly string _work = Directory.CreateTempSubdirectory("accel-issue15-fixture-").FullName;
        private byte[] _large = [];

        public DockerRegistryProcess Registry { get; private set; } = null!;

        public ImageReference Reference { get; private set; } = null!;

        public byte[] Expected(long offset, int length) => _large.AsSpan((int)offset, Math.Min(length, _large.Length - (int)offset)).ToArray();

        public async Task InitializeAsync()
        {
            Registry = await DockerRegistryProcess.StartAsync();
            using var image = await ConformanceImage.BuildAsync(_work);
            await image.PushAsync(Registry.Host, Repository, PushManifestFormat.Oci);
            string rootfs = await image.UnpackWithUmociAsync(Path.Combine(_work, "umoci-bundle"));
            _large = await File.ReadAllBytesAsync(Path.Combine(rootfs, ConformancePaths.LargeFile));
            Reference = ImageReference.Parse($"{Registry.Host}/{Repository}:{image.Tag}");
            var lazy = await CliRunner.RunAsync("convert", "--plain-http", Reference.ToString(), "--format", "lazy", "--chunk-size", "64K");
            Assert.True(lazy.ExitCode == 0, lazy.Error);
            var block = await CliRunner.RunAsync("convert", "--plain-http", Reference.ToString(), "--format", "block");
            Assert.True(block.ExitCode == 0, block.Error);
        }

        public async Task DisposeAsync()
        {
            await Registry.DisposeAsync();
            Directory.Delete(_work, recursive: true);
        }
    }
}
