using System.Diagnostics;
using Accelerator.Seekable.Gzip;
using Accelerator.Testing.Images;
using Xunit.Abstractions;

namespace Accelerator.Seekable.Tests.Gzip;

[CollectionDefinition(nameof(GzipIndexBuilderStreamingTests), DisableParallelization = true)]
public sealed class GzipIndexBuilderStreamingCollection
{
}

/// <summary>
/// The builder streams: indexing the biggest corpus layer allocates a small fraction of the layer. Alone in its
/// collection, because the allocation counter is the process's.
/// </summary>
[Collection(nameof(GzipIndexBuilderStreamingTests))]
public sealed class GzipIndexBuilderStreamingTests(ITestOutputHelper output)
{
    [Fact]
    public async Task BuildAsync_BiggestCorpusLayer_AllocatesAFractionOfTheLayer()
    {
        LayerFile layer = (await GzipTestLayers.CorpusLayersAsync(DebianImageCorpus.PythonNginx))[0];
        await using var stream = new ForwardOnlyStream(File.OpenRead(layer.Path));

        long before = GC.GetTotalAllocatedBytes(precise: true);
        TimeSpan cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var watch = Stopwatch.StartNew();
        GzipLayerIndex index = await GzipIndexBuilder.BuildAsync(stream, layer.Descriptor);
        TimeSpan wall = watch.Elapsed;
        cpu = Process.GetCurrentProcess().TotalProcessorTime - cpu;
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;

        // Wall time depends on the machine's load; the CPU time (this test runs alone) less so.
        int indexBytes = index.ToBytes().Length;
        output.WriteLine(
            $"{layer}: {index.UncompressedSize} bytes of tar, {index.Entries.Count} entries, {index.Units.Count} spans; index {indexBytes} bytes "
            + $"= {100.0 * indexBytes / layer.Descriptor.Size:F2}% of the layer; {allocated} bytes allocated; built in {wall.TotalSeconds:F2} s "
            + $"({layer.Descriptor.Size / wall.TotalSeconds / 1e6:F0} MB/s of layer, {index.UncompressedSize / wall.TotalSeconds / 1e6:F0} MB/s of tar), "
            + $"{cpu.TotalSeconds:F2} s of CPU ({layer.Descriptor.Size / cpu.TotalSeconds / 1e6:F0} and {index.UncompressedSize / cpu.TotalSeconds / 1e6:F0} MB/s per CPU second)");
        Assert.True(index.UncompressedSize > 128 << 20);
        Assert.True(indexBytes <= layer.Descriptor.Size / 50, $"the index is {indexBytes} bytes for a layer of {layer.Descriptor.Size}");

        // The entries (headers, names, attributes) and the windows stay; the data passes through fixed buffers.
        Assert.True(allocated < index.UncompressedSize / 8, $"{allocated} bytes allocated for {index.UncompressedSize} bytes of tar");
    }

    // A blob as a registry gives it: read forward, no length, no seeking.
    private sealed class ForwardOnlyStream(Stream inner) : ReadOnlyStream
    {
        public override int Read(Span<byte> buffer) => inner.Read(buffer);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
