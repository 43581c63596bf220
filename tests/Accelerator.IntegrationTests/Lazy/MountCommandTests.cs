using Accelerator.Linux;
using System.Diagnostics;
using System.Text.Json;
using Accelerator.IntegrationTests.Cli;
using Accelerator.Lazy.Mounting;
using Accelerator.Testing.Images;

namespace Accelerator.IntegrationTests.Lazy;

/// <summary>
/// <c>accel mount</c> and <c>accel umount</c> as real processes against a real registry holding the conformance image
/// and its lazy variant (made with <c>accel convert</c>).
/// </summary>
public sealed class MountCommandTests(ConformanceImageFixture fixture) : IClassFixture<ConformanceImageFixture>, IAsyncLifetime
{
    private readonly string _work = Directory.CreateTempSubdirectory("accel-mount-cli-").FullName;

    public async Task InitializeAsync()
    {
        var (code, _, error) = await CliRunner.RunAsync("convert", "--plain-http", Source.ToString(), "--format", "lazy");
        Assert.True(code == 0, error);
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_work, recursive: true);
        return Task.CompletedTask;
    }

    private ImageReference Source => fixture.Reference(ConformanceImageFixture.OciRepository);

    private static Process StartAccel(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "accel.dll"));
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        return Process.Start(start)!;
    }

    private static async Task WaitForMountAsync(string mountPoint, Process server)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (!MountTable.IsMountPoint(mountPoint))
        {
            Assert.False(server.HasExited, server.HasExited ? await server.StandardError.ReadToEndAsync() : null);
            await Task.Delay(100, timeout.Token);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Mount_ThenUmount_ServesFilesAndExitsZero(bool readOnly)
    {
        string mountPoint = Directory.CreateDirectory(Path.Combine(_work, "mnt")).FullName;
        string stats = Path.Combine(_work, "stats.json");
        string trace = Path.Combine(_work, "trace.txt");
        string[] args = ["mount", "--plain-http", Source.ToString(), mountPoint, "--strategy", "lazy", "--cache-dir", Path.Combine(_work, "cache"), "--stats-json", stats, "--record-trace", trace];
        using var server = StartAccel(readOnly ? [.. args, "--read-only"] : args);
        var stdout = server.StandardOutput.ReadToEndAsync();
        try
        {
            await WaitForMountAsync(mountPoint, server);

            Assert.Equal(ConformancePaths.SmallFileContent, await File.ReadAllTextAsync(Path.Combine(mountPoint, ConformancePaths.SmallFile)));
            var (code, _, error) = await CliRunner.RunAsync("umount", mountPoint);
            Assert.True(code == 0, error);
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

        Assert.True(server.ExitCode == 0, await server.StandardError.ReadToEndAsync());
        Assert.Contains("with strategy lazy", await stdout);
        Assert.False(MountTable.IsMountPoint(mountPoint));
        using var json = JsonDocument.Parse(await File.ReadAllBytesAsync(stats));
        var root = json.RootElement;
        Assert.Equal("lazy", root.GetProperty("strategy").GetString());
        Assert.True(root.GetProperty("bytesFetched").GetInt64() > 0);
        Assert.True(root.GetProperty("bytesFetchedBySource").GetProperty("origin").GetInt64() > 0);
        Assert.True(root.GetProperty("bytesRead").GetInt64() >= ConformancePaths.SmallFileContent.Length);
        Assert.True(root.GetProperty("chunksFetched").GetInt64() > 0);
        Assert.True(root.GetProperty("timeToReadySeconds").GetDouble() > 0);
        Assert.Contains("/" + ConformancePaths.SmallFile, await File.ReadAllLinesAsync(trace));
    }

    [Fact]
    public async Task Mount_Background_ReturnsWhenReadyAndUmountEndsServer()
    {
        string mountPoint = Directory.CreateDirectory(Path.Combine(_work, "mnt-bg")).FullName;

        var (code, output, error) = await CliRunner.RunProcessAsync(
            "mount", "--plain-http", Source.ToString(), mountPoint, "--read-only", "--cache-dir", Path.Combine(_work, "cache"), "--background");

        Assert.True(code == 0, error);
        int pid = int.Parse(System.Text.RegularExpressions.Regex.Match(output, @"served by process (\d+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        using var server = Process.GetProcessById(pid);
        try
        {
            Assert.True(MountTable.IsMountPoint(mountPoint));
            Assert.Equal(ConformancePaths.SmallFileContent, await File.ReadAllTextAsync(Path.Combine(mountPoint, ConformancePaths.SmallFile)));
            var (umount, _, umountError) = await CliRunner.RunAsync("umount", mountPoint);
            Assert.True(umount == 0, umountError);
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
    }

    [Fact]
    public async Task Mount_BackgroundServerFails_OneErrorLineSaidOnce()
    {
        string mountPoint = Directory.CreateDirectory(Path.Combine(_work, "mnt-bg-fails")).FullName;
        var missing = Source.WithTag("no-such-tag");

        var (code, _, error) = await CliRunner.RunProcessAsync(
            "mount", "--plain-http", missing.ToString(), mountPoint, "--strategy", "lazy", "--background");

        Assert.NotEqual(0, code);
        string[] lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(lines.Length == 1, "more than one error line:\n" + error);
        Assert.StartsWith("accel: error: The background mount exited with code", lines[0], StringComparison.Ordinal);
        Assert.Equal(1, System.Text.RegularExpressions.Regex.Count(lines[0], "accel: error:"));
        Assert.False(MountTable.IsMountPoint(mountPoint));
    }

    [Fact]
    public async Task Mount_AutoWithoutLazyVariant_FallsBackToFull()
    {
        string mountPoint = Directory.CreateDirectory(Path.Combine(_work, "mnt-full")).FullName;
        var docker = fixture.Reference(ConformanceImageFixture.DockerRepository);
        using var server = StartAccel("mount", "--plain-http", docker.ToString(), mountPoint);
        var lines = new List<string>();
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            while (await server.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
            {
                lines.Add(line);
                if (line.StartsWith("Mounted ", StringComparison.Ordinal))
                {
                    break;
                }
            }

            Assert.Equal(ConformancePaths.SmallFileContent, await File.ReadAllTextAsync(Path.Combine(mountPoint, ConformancePaths.SmallFile)));
        }
        finally
        {
            // SIGTERM: the server stops serving and exits cleanly.
            Process.Start("kill", ["-TERM", server.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await server.WaitForExitAsync(timeout.Token);
        }

        string output = string.Join("\n", lines) + await server.StandardOutput.ReadToEndAsync();
        Assert.True(server.ExitCode == 0, output + await server.StandardError.ReadToEndAsync());
        Assert.Contains("Strategy lazy skipped", output);
        Assert.Contains("with strategy full", output);
    }

    [Fact]
    public async Task Mount_AutoWithStatsJson_RecordsFallbacksAndServedStrategy()
    {
        string mountPoint = Directory.CreateDirectory(Path.Combine(_work, "mnt-stats")).FullName;
        // An existing, empty snapshot store: auto tries the cache first, and it cannot serve.
        string snapshots = Directory.CreateDirectory(Path.Combine(_work, "snapshots")).FullName;
        string stats = Path.Combine(_work, "full-stats.json");
        var docker = fixture.Reference(ConformanceImageFixture.DockerRepository);
        using var server = StartAccel("mount", "--plain-http", docker.ToString(), mountPoint, "--snapshot-dir", snapshots,
            "--cache-dir", Path.Combine(_work, "cache"), "--stats-json", stats);
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            while (await server.StandardOutput.ReadLineAsync(timeout.Token) is { } line && !line.StartsWith("Mounted ", StringComparison.Ordinal))
            {
            }
        }
        finally
        {
            Process.Start("kill", ["-TERM", server.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await server.WaitForExitAsync(timeout.Token);
        }

        Assert.True(server.ExitCode == 0, await server.StandardError.ReadToEndAsync());
        using var json = JsonDocument.Parse(await File.ReadAllBytesAsync(stats));
        var root = json.RootElement;
        Assert.Equal("full", root.GetProperty("strategy").GetString());
        var fallbacks = root.GetProperty("fallbacks").EnumerateArray()
            .Select(f => (Strategy: f.GetProperty("strategy").GetString(), Reason: f.GetProperty("reason").GetString()))
            .ToList();
        Assert.Equal(["cache", "lazy", "block"], fallbacks.Select(f => f.Strategy));
        Assert.All(fallbacks, f => Assert.False(string.IsNullOrWhiteSpace(f.Reason)));
        Assert.Contains("snapshot", fallbacks[0].Reason, StringComparison.OrdinalIgnoreCase);
        Assert.True(root.GetProperty("bytesFetched").GetInt64() > 0);
    }
}
