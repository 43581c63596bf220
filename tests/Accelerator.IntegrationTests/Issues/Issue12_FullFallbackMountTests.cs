using Accelerator.Linux;
using System.Diagnostics;
using System.Text.Json;
using Accelerator.IntegrationTests.Cli;
using Accelerator.Lazy.Mounting;
using Accelerator.Testing.Images;

namespace Accelerator.IntegrationTests.Issues;

/// <summary>
/// Issue 12, A3: <c>accel mount --background</c> in auto mode on an image without an accelerated variant fell back to a
/// full pull that unpacked the tree at the mount point without mounting anything, so the background start waited
/// for a mount that never came ("not ready") and <c>accel umount</c> refused ("not a mount point"). A fallback must
/// work in every mode: background, umount, statistics.
/// </summary>
public sealed class Issue12_FullFallbackMountTests(ConformanceImageFixture fixture) : IClassFixture<ConformanceImageFixture>, IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("accel-issue12-full-").FullName;

    public void Dispose()
    {
        foreach (string mountPoint in Directory.EnumerateDirectories(_work))
        {
            FileSystemMount.Unmount(Path.GetFullPath(mountPoint));
        }

        Directory.Delete(_work, recursive: true);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Mount_BackgroundAutoWithoutVariant_FullFallbackIsAMountThatUmountEnds(bool readOnly)
    {
        string mountPoint = Directory.CreateDirectory(Path.Combine(_work, "mnt")).FullName;
        string stats = Path.Combine(_work, "stats.json");
        string state = Path.Combine(_work, "state");
        var docker = fixture.Reference(ConformanceImageFixture.DockerRepository);
        string[] args =
        [
            "mount", "--plain-http", docker.ToString(), mountPoint, "--background", "--ready-timeout", "60",
            // No snapshot store: auto tries lazy, block, then full.
            "--snapshot-dir", Path.Combine(_work, "no-snapshots"), "--cache-dir", Path.Combine(_work, "cache"), "--stats-json", stats,
        ];

        var (code, output, error) = await CliRunner.RunProcessAsync(readOnly ? [.. args, "--read-only"] : args);

        Assert.True(code == 0, output + error);
        // The fallback is visible in the background too.
        Assert.Contains("Strategy lazy skipped: ", output);
        Assert.Contains("Strategy block skipped: ", output);
        Assert.Contains("with strategy full", output);
        int pid = int.Parse(System.Text.RegularExpressions.Regex.Match(output, @"served by process (\d+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        using var server = Process.GetProcessById(pid);
        try
        {
            Assert.True(MountTable.IsMountPoint(mountPoint));
            Assert.Equal(ConformancePaths.SmallFileContent, await File.ReadAllTextAsync(Path.Combine(mountPoint, ConformancePaths.SmallFile)));
            string written = Path.Combine(mountPoint, "written-by-test");
            if (readOnly)
            {
                Assert.ThrowsAny<IOException>(() => File.WriteAllText(written, "x"));
            }
            else
            {
                // Writable by default, like every other strategy.
                await File.WriteAllTextAsync(written, "x");
            }

            var (umount, umountOutput, umountError) = await CliRunner.RunAsync("umount", mountPoint);
            Assert.True(umount == 0, umountOutput + umountError);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await server.WaitForExitAsync(timeout.Token);
        }
        finally
        {
            if (!server.HasExited)
            {
                server.Kill(entireProcessTree: true);
            }
        }

        Assert.False(MountTable.IsMountPoint(mountPoint));
        // Nothing was unpacked at (or written through to) the mount point itself: it was a mount of a private tree.
        Assert.Empty(Directory.EnumerateFileSystemEntries(mountPoint));
        using var json = JsonDocument.Parse(await File.ReadAllBytesAsync(stats));
        var root = json.RootElement;
        Assert.Equal("full", root.GetProperty("strategy").GetString());
        var fallbacks = root.GetProperty("fallbacks").EnumerateArray()
            .Select(f => (Strategy: f.GetProperty("strategy").GetString(), Reason: f.GetProperty("reason").GetString()))
            .ToList();
        Assert.Equal(["lazy", "block"], fallbacks.Select(f => f.Strategy));
        Assert.All(fallbacks, f => Assert.False(string.IsNullOrWhiteSpace(f.Reason)));
        Assert.True(root.GetProperty("bytesFetched").GetInt64() > 0);
    }
}
