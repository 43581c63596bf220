using Accelerator.Lazy.Conversion;
using Accelerator.Lazy.Mounting;
using Accelerator.Oci;
using Accelerator.Oci.Layout;
using Accelerator.Oci.Registry;
using Accelerator.Testing.Images;

namespace Accelerator.Lazy.Tests.Mounting;

/// <summary>Builds images from directories, converts them to lazy layouts, and makes lazy mounters over them.</summary>
internal static class LazyMountHarness
{
    /// <summary>An OCI layout (tag <c>src</c>) with one layer: GNU tar (PAX, xattrs, numeric owners) of <paramref name="root"/>.</summary>
    public static async Task<ImageReference> ImageFromDirectoryAsync(string root, string work)
    {
        string layout = Path.Combine(work, "layout");
        string layer = Path.Combine(work, "layer.tar");
        await ExternalTool.RunAsync("tar", ["--format=pax", "--xattrs", "--xattrs-include=*", "--numeric-owner", "--pax-option=delete=atime,delete=ctime", "-C", root, "-cf", layer, "."]);
        await ExternalTool.RunAsync("umoci", ["init", "--layout", layout]);
        await ExternalTool.RunAsync("umoci", ["new", "--image", layout + ":src"]);
        await ExternalTool.RunAsync("umoci", ["raw", "add-layer", "--image", layout + ":src", layer]);
        File.Delete(layer);
        return ImageReference.Parse($"oci:{layout}:src");
    }

    /// <summary>Converts <paramref name="source"/> (a layout image with a tag) into the same layout as <c>TAG-accel</c>.</summary>
    public static async Task<LazyConvertResult> ConvertBesideAsync(ImageReference source, LazyConvertOptions? options = null)
    {
        var layout = OciImageLayout.OpenOrCreate(source.LayoutPath!);
        return await LazyConverter.ConvertAsync(layout, source, layout, LazyConverter.DefaultTarget(source), options);
    }

    /// <summary>A mounter with its own cache and state directories under <paramref name="work"/>.</summary>
    public static LazyMounter CreateMounter(RegistryClient client, string work, Action<LazyMountOptions>? configure = null)
    {
        var options = new LazyMountOptions
        {
            CacheDirectory = Directory.CreateDirectory(Path.Combine(work, "cache-" + Guid.NewGuid().ToString("N")[..8])).FullName,
            StateDirectory = Directory.CreateDirectory(Path.Combine(work, "state")).FullName,
            Prefetch = false,
        };
        configure?.Invoke(options);
        return new LazyMounter(new ImageStoreResolver(client), options);
    }
}
