using System.Globalization;
using Accelerator.Block.Tests.Support;
using Accelerator.Testing;
using Accelerator.Testing.Processes;
using Xunit.Abstractions;

namespace Accelerator.Block.Tests.Issues;

/// <summary>
/// Issue 15: an NBD client that reconnects by itself (qemu-io with <c>reconnect-delay</c>) reads through a SIGTERM
/// restart and a SIGKILL restart of <c>accel block serve</c> on the same address without one failed read, every block's
/// bytes checked, and the export it finds again is the same (name, size, flags, as <c>nbdinfo --json</c> reports them).
/// The read latencies around each restart are written to the test output (the stall in docs/benchmarks.md).
/// </summary>
public sealed class Issue15_NbdReconnectTests(ITestOutputHelper output) : IDisposable
{
    private const int BlockSize = 64 * 1024;
    private const int Blocks = 256;
    private const string Export = "root";
    private const int ReadsBetweenRestarts = 150;
    private static readonly TimeSpan ReadyLimit = TimeSpan.FromSeconds(60);

    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    // Block i of the disk holds the byte i: a read that returns another block's bytes, or zeros, fails qemu-io's check.
    private static byte Pattern(int block) => (byte)block;

    [Fact]
    public async Task BlockServe_RestartedWithSigtermThenSigkill_ReconnectingClientSeesNoFailedReadAndTheSameExport()
    {
        string disk = _directory.Combine("pattern.img");
        await using (var file = File.Create(disk))
        {
            for (int block = 0; block < Blocks; block++)
            {
                await file.WriteAsync(Enumerable.Repeat(Pattern(block), BlockSize).ToArray());
            }
        }

        int port = LoopbackPorts.Free();
        string uri = $"nbd://127.0.0.1:{port}/{Export}";
        var server = await StartServerAsync(disk, port);
        try
        {
            string identity = await ExportIdentityAsync(uri);
            await using var client = QemuIoReadLoop.Start(port, Export, reconnectDelaySeconds: 60, Blocks, BlockSize, Pattern, TimeSpan.FromMilliseconds(2));
            await client.WaitForMoreReadsAsync(ReadsBetweenRestarts, ReadyLimit);
            int steady = client.Count;

            TimeSpan sigterm = client.Elapsed;
            Assert.Equal(0, await server.TerminateAsync());
            await server.DisposeAsync();
            server = await StartServerAsync(disk, port);
            Assert.Equal(identity, await ExportIdentityAsync(uri));
            await client.WaitForMoreReadsAsync(ReadsBetweenRestarts, ReadyLimit);

            TimeSpan sigkill = client.Elapsed;
            await server.KillAsync();
            await server.DisposeAsync();
            server = await StartServerAsync(disk, port);
            Assert.Equal(identity, await ExportIdentityAsync(uri));
            await client.WaitForMoreReadsAsync(ReadsBetweenRestarts, ReadyLimit);

            var reads = await client.StopAsync();
            Assert.All(reads, read => Assert.True(read.Succeeded, $"The read sent at {read.SentAt} failed: {read.Line}"));
            Report("steady state", reads.Take(steady).ToList());
            Report("across the SIGTERM restart", Around(reads, sigterm));
            Report("across the SIGKILL restart", Around(reads, sigkill));
            Assert.Equal(0, await server.TerminateAsync());
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    private static async Task<AccelProcess> StartServerAsync(string disk, int port)
    {
        var accel = AccelProcess.Start("block", "serve", "file:" + disk, "--nbd", $"tcp://127.0.0.1:{port}", "--name", Export);
        await accel.WaitForOutputAsync("Stop with Ctrl+C", ReadyLimit);
        return accel;
    }

    // What a client learns of the export at the handshake: name, size, flags and block sizes.
    private static Task<string> ExportIdentityAsync(string uri) => Tool.CheckAsync("nbdinfo", "--json", uri);

    // The reads from the restart to 3 s after the first read that was sent after it and succeeded.
    private static List<QemuIoReadLoop.Read> Around(IReadOnlyList<QemuIoReadLoop.Read> reads, TimeSpan restart)
    {
        var after = reads.Where(r => r.SentAt + r.Latency >= restart).ToList();
        TimeSpan end = (after.FirstOrDefault(r => r.SentAt > restart && r.Succeeded)?.SentAt ?? restart) + TimeSpan.FromSeconds(3);
        return [.. after.Where(r => r.SentAt <= end)];
    }

    private void Report(string window, List<QemuIoReadLoop.Read> reads)
    {
        var latencies = reads.Select(r => r.Latency.TotalMilliseconds).Order().ToArray();
        Assert.NotEmpty(latencies);
        double Percentile(double p) => latencies[Math.Min(latencies.Length - 1, (int)Math.Ceiling(p * latencies.Length) - 1)];
        output.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"{window}: {latencies.Length} reads of 64 KiB, p50 {Percentile(0.50):F2} ms, p99 {Percentile(0.99):F2} ms, max {latencies[^1]:F2} ms, failed {reads.Count(r => !r.Succeeded)}"));
    }
}
