using Accelerator.Lazy.Conversion;
using Accelerator.Lazy.Format;
using Accelerator.Oci.Layout;

namespace Accelerator.Lazy.Tests.Support;

/// <summary>Converts layout images into layouts and loads the result back.</summary>
internal static class Conversions
{
    public static async Task<(LazyConvertResult Result, LazyImage Image)> ToLayoutAsync(ImageReference source, string targetLayout, string tag = "accel", LazyConvertOptions? options = null)
    {
        var target = ImageReference.Parse($"oci:{targetLayout}:{tag}");
        var result = await LazyConverter.ConvertAsync(OciImageLayout.Open(source.LayoutPath!), source, OciImageLayout.OpenOrCreate(targetLayout), target, options);
        var image = await LazyImage.LoadAsync(OciImageLayout.Open(targetLayout), target);
        return (result, image);
    }
}
