using System.Collections.Concurrent;
using Accelerator.Oci.Registry;
using Accelerator.Testing.Conformance;

namespace Accelerator.Lazy.Tests.Mounting;

/// <summary>
/// The mount conformance suite over a lazy mount: the suite's source tree archived with GNU tar into an image, converted
/// to a lazy image, mounted read-only by <see cref="Lazy.Mounting.LazyMounter"/> (fetching from the layout).
/// </summary>
public sealed class LazyMountConformanceTests(MountConformanceTree tree, LazyDirectoryImages images)
    : MountConformanceTests(tree), IClassFixture<MountConformanceTree>, IClassFixture<LazyDirectoryImages>
{
    protected override async Task<IAsyncDisposable> MountAsync(string sourceDirectory, string mountPoint)
    {
        ImageReference lazy = await images.GetLazyImageAsync(sourceDirectory);
        var mounter = LazyMountHarness.CreateMounter(images.Client, images.WorkDirectory);
        return await mounter.MountAsync(lazy, mountPoint, new MountOptions { ReadOnly = true });
    }
}

/// <summary>Lazy images of source directories, built once per directory for a test class.</summary>
public sealed class LazyDirectoryImages : IDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<Task<ImageReference>>> _images = new(StringComparer.Ordinal);

    public string WorkDirectory { get; } = Directory.CreateTempSubdirectory("accel-lazy-mount-").FullName;

    public RegistryClient Client { get; } = new(new RegistryOptions { PlainHttp = true });

    /// <summary>The source reference (tag <c>src</c>) whose <c>src-accel</c> is the lazy image of <paramref name="root"/>.</summary>
    public Task<ImageReference> GetLazyImageAsync(string root)
        => _images.GetOrAdd(root, r => new Lazy<Task<ImageReference>>(() => BuildAsync(r))).Value;

    private async Task<ImageReference> BuildAsync(string root)
    {
        string work = Directory.CreateDirectory(Path.Combine(WorkDirectory, "image-" + _images.Count)).FullName;
        ImageReference source = await LazyMountHarness.ImageFromDirectoryAsync(root, work);
        await LazyMountHarness.ConvertBesideAsync(source);
        return source;
    }

    public void Dispose()
    {
        Client.Dispose();
        Directory.Delete(WorkDirectory, recursive: true);
    }
}
