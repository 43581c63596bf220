using System.Globalization;
using Accelerator.Block.Tests.Support;
using Accelerator.Testing;
using Accelerator.Testing.Processes;
using Xunit.Abstractions;

namespace Accelerator.Block.Tests.Issues;

/// <summary>
/// Issue 15: an NBD client that reconnects by itself (qemu-io with <c>reconnect-delay</c>) reads through a SIGTERM
/// restart and a SIGKILL restart of <c>accel block serve</c> on the same address without one failed read, and the
/// export it finds again is the same (name, size, flags, block sizes, as <c>nbdinfo --json</c> reports them) with the
/// same bytes: a raw disk file's blocks are checked by qemu-io itself, a block image's disk is compared whole after the
/// restarts with the copy taken before them. The read latencies around each restart are written to the test output
/// (the stall in docs/benchmarks.md).
/// </summary>
[Collection(BlockCollection.Name)]
public sealed class Issue15_NbdReconnectTests(BlockFixture fixture, ITestOutputHelper output) : IDisposable
{
    private const int BlockSize = 64 * 1024;
    private const string Export = "root";
    private const int ReadsBetweenRestarts = 150;
    private static readonly TimeSpan ReadyLimit = TimeSpan.FromSeconds(60);

    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    // Block i of the raw disk holds the byte i: a read that returns another block's bytes, or zeros, fails qemu-io's check.
    private static byte Pattern(int block) => (byte)block;

    [Fact]
    public async Task BlockServe_RawDiskRestartedWithSigtermThenSigkill_ReconnectingClientSeesNoFailedReadAndTheSameBytes()
    {
        const int blocks = 256;
        string disk = _directory.Combine("pattern.img");
        await using (var file = File.Create(disk))
        {
            for (int block = 0; block < blocks; block++)
            {
                await file.WriteAsync(Enumerable.Repeat(Pattern(block), BlockSize).ToArray());
            }
        }

        await ReadAcrossRestartsAsync(["file:" + disk], blocks, Pattern);
    }

    [Fact]
    public async Task BlockServe_BlockImageRestartedWithSigtermThenSigkill_ReconnectingClientSeesNoFailedReadAndTheSameDisk()
    {
        int blocks = (int)(fixture.Converted.DiskSize / BlockSize);
        string[] serve = [fixture.BlockReference.ToString(), "--block-cache-dir", _directory.Combine("blocks")];

        string before = _directory.Combine("before.img");
        var (port, uri) = await ReadAcrossRestartsAsync(serve, blocks, pattern: null, copyBefore: before);

        // The client that read through both restarts saw no failure; the disk now served is the one served before.
        await using var server = await StartServerAsync(serve, port);
        await Tool.CheckAsync("qemu-img", "compare", "-f", "raw", "-F", "raw", before, uri);
        Assert.Equal(0, await server.TerminateAsync());
    }

    // Serves SOURCE on a free loopback port, reads it with a reconnecting qemu-io through a SIGTERM and a SIGKILL restart,
    // checks that no read failed and that the export is the same after each restart; returns the port and URI.
    private async Task<(int Port, string Uri)> ReadAcrossRestartsAsync(string[] serve, int blocks, Func<int, byte>? pattern, string? copyBefore = null)
    {
        int port = LoopbackPorts.Free();
        string uri = $"nbd://127.0.0.1:{port}/{Export}";
        var server = await StartServerAsync(serve, port);
        try
        {
            string identity = await ExportIdentityAsync(uri);
            if (copyBefore is not null)
            {
                await Tool.CheckAsync("nbdcopy", uri, copyBefore);
            }

            await using var client = QemuIoReadLoop.Start(port, Export, reconnectDelaySeconds: 60, blocks, BlockSize, pattern, TimeSpan.FromMilliseconds(2));
            await client.WaitForMoreReadsAsync(ReadsBetweenRestarts, ReadyLimit);
            int steady = client.Count;

            TimeSpan sigterm = client.Elapsed;
            Assert.Equal(0, await server.TerminateAsync());
            await server.DisposeAsync();
            server = await StartServerAsync(serve, port);
            Assert.Equal(identity, await ExportIdentityAsync(uri));
            await client.WaitForMoreReadsAsync(ReadsBetweenRestarts, ReadyLimit);

            TimeSpan sigkill = client.Elapsed;
            await server.KillAsync();
            await server.DisposeAsync();
            server = await StartServerAsync(serve, port);
            Assert.Equal(identity, await ExportIdentityAsync(uri));
            await client.WaitForMoreReadsAsync(ReadsBetweenRestarts, ReadyLimit);

            var reads = await client.StopAsync();
            Assert.All(reads, read => Assert.True(read.Succeeded, $"The read sent at {read.SentAt} failed: {read.Line}"));
            Report("steady state", [.. reads.Take(steady)]);
            Report("from the SIGTERM restart on", Between(reads, sigterm, sigkill));
            Report("from the SIGKILL restart on", Between(reads, sigkill, TimeSpan.MaxValue));
            Assert.Equal(0, await server.TerminateAsync());
            return (port, uri);
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    private static async Task<AccelProcess> StartServerAsync(string[] serve, int port)
    {
        var accel = AccelProcess.Start(["block", "serve", .. serve, "--nbd", $"tcp://127.0.0.1:{port}", "--name", Export]);
        await accel.WaitForOutputAsync("Stop with Ctrl+C", ReadyLimit);
        return accel;
    }

    // What a client learns of the export at the handshake: name, description, size, flags and block sizes.
    private static Task<string> ExportIdentityAsync(string uri) => Tool.CheckAsync("nbdinfo", "--json", uri);

    // The reads that ended after the restart and were sent before the next one (each window holds the read that waited
    // for the server to come back, and the reads that followed).
    private static List<QemuIoReadLoop.Read> Between(IReadOnlyList<QemuIoReadLoop.Read> reads, TimeSpan restart, TimeSpan next)
        => [.. reads.Where(r => r.SentAt + r.Latency >= restart && r.SentAt < next)];

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
