using Accelerator.Lazy.Seekable;
using Accelerator.Lazy.Tests.Support;
using Accelerator.Oci.Layout;
using Accelerator.Seekable.Gzip;
using Accelerator.Seekable.Index;
using Accelerator.Testing.Images;

namespace Accelerator.Lazy.Tests.Seekable;

/// <summary>
/// <see cref="SeekableMountPlan"/> over a copy of the conformance image's layout (three gzip layers): without an index
/// nothing is seekable; with one layer indexed (published into the layout as a referrer) that layer comes from the
/// index and the small others are fetched whole; a layer over the whole-layer limit is named with what to do. (The
/// middle layer is the one indexed: the base layer holds a sparse file, which no index can describe.)
/// </summary>
[Collection(LazyCollection.Name)]
public sealed class SeekableMountPlanTests(LazyFixture fixture) : IDisposable
{
    private readonly string _work = fixture.NewDirectory("seekable-plan");

    public void Dispose() => Directory.Delete(_work, recursive: true);

    [Fact]
    public async Task CreateAsync_NoIndex_CannotMountAndSaysRunAccelIndex()
    {
        var (store, image) = await CopyAsync();

        var plan = await SeekableMountPlan.CreateAsync(store, image, null, 16 << 20);

        Assert.False(plan.CanMount);
        Assert.Null(plan.Artifact);
        Assert.All(plan.Layers, l => Assert.Equal(SeekableLayerSource.Whole, l.Source));
        Assert.Contains("none of its 3 layers has a seekable index", plan.Reason, StringComparison.Ordinal);
        Assert.EndsWith("run accel index", plan.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateAsync_MiddleLayerIndexed_IndexAndWholeLayers()
    {
        var (store, image) = await CopyAsync();
        await IndexAsync(store, image, 1);

        var plan = await SeekableMountPlan.CreateAsync(store, image, null, 16 << 20);

        Assert.True(plan.CanMount, plan.Reason);
        Assert.NotNull(plan.Artifact);
        Assert.Equal([SeekableLayerSource.Whole, SeekableLayerSource.Index, SeekableLayerSource.Whole], plan.Layers.Select(l => l.Source));
        Assert.Contains("seekable index", plan.Layers[1].Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateAsync_UnindexedLayerOverTheLimit_ReasonNamesTheLayer()
    {
        var (store, image) = await CopyAsync();
        await IndexAsync(store, image, 1);

        var plan = await SeekableMountPlan.CreateAsync(store, image, null, maxWholeLayerBytes: 0);

        Assert.False(plan.CanMount);
        Assert.Null(plan.Layers[0].Source);
        Assert.StartsWith($"layer 0 {plan.Layers[0].Descriptor.Digest} (", plan.Reason, StringComparison.Ordinal);
        Assert.Contains("tar+gzip) has no seekable index (the index artifact", plan.Reason, StringComparison.Ordinal);
        Assert.EndsWith("does not list it): run accel index", plan.Reason, StringComparison.Ordinal);
    }

    private async Task<(OciImageLayout Store, ImageReference Image)> CopyAsync()
    {
        string layout = Path.Combine(_work, "layout-" + Guid.NewGuid().ToString("N")[..8]);
        await ExternalTool.RunAsync("cp", ["-a", fixture.Image.LayoutPath, layout]);
        return (OciImageLayout.Open(layout), ImageReference.Parse($"oci:{layout}:{fixture.Image.Tag}"));
    }

    private static async Task IndexAsync(OciImageLayout store, ImageReference image, int layer)
    {
        var manifest = await store.GetManifestAsync(image);
        Descriptor descriptor = manifest.Manifest!.Layers[layer];
        await using var blob = await store.Blobs.OpenReadAsync(BlobAddress.For(image.Repository, descriptor));
        var index = await GzipIndexBuilder.BuildAsync(blob, descriptor);
        await SeekableIndexPublisher.PublishAsync(store, image, manifest.Descriptor, [index], index.SpanSize);
    }
}
