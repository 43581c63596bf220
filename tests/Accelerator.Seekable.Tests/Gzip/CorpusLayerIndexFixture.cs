using System.Diagnostics;
using Accelerator.Seekable.Gzip;
using Accelerator.Testing.Images;

namespace Accelerator.Seekable.Tests.Gzip;

/// <summary>
/// Every distinct layer of two corpus images (minbase, and layered: minbase's layer, a package layer, an app layer with
/// whiteouts), indexed once at the default span. The biggest corpus layer is measured by <see cref="GzipIndexBuilderStreamingTests"/>.
/// </summary>
public sealed class CorpusLayerIndexFixture : IAsyncLifetime
{
    internal IReadOnlyList<(LayerFile Layer, GzipLayerIndex Index, TimeSpan BuildTime, TimeSpan CpuTime)> Layers { get; private set; } = [];

    public async Task InitializeAsync()
    {
        var built = new List<(LayerFile, GzipLayerIndex, TimeSpan, TimeSpan)>();
        foreach (LayerFile layer in await GzipTestLayers.CorpusLayersAsync(DebianImageCorpus.Minbase, DebianImageCorpus.Layered))
        {
            // Wall time depends on the machine's load; the process's CPU time (the build is most of it) less so.
            TimeSpan cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var watch = Stopwatch.StartNew();
            GzipLayerIndex index = await GzipTestLayers.BuildAsync(layer);
            built.Add((layer, index, watch.Elapsed, Process.GetCurrentProcess().TotalProcessorTime - cpu));
        }

        Layers = built;
    }

    public Task DisposeAsync() => Task.CompletedTask;
}
