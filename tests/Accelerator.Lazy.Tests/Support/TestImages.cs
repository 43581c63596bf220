using System.IO.Compression;
using Accelerator.Oci.Layout;
using Accelerator.Oci.Model;

namespace Accelerator.Lazy.Tests.Support;

/// <summary>Writes small images into OCI layouts from layer tars made with TarBuilder or in code.</summary>
internal static class TestImages
{
    /// <summary>Writes an image of the given uncompressed layer tars (gzipped) to <paramref name="layoutPath"/> as <paramref name="tag"/>.</summary>
    public static async Task<ImageReference> WriteAsync(string layoutPath, string tag, params byte[][] layerTars)
    {
        var layout = OciImageLayout.OpenOrCreate(layoutPath);
        var layers = new List<Descriptor>();
        var diffIds = new List<Digest>();
        foreach (byte[] tar in layerTars)
        {
            byte[] gzip = Gzip(tar);
            var descriptor = Descriptor.FromContent(MediaTypes.OciLayerGzip, gzip);
            await layout.PushBlobAsync(descriptor, new MemoryStream(gzip));
            layers.Add(descriptor);
            diffIds.Add(Digest.Compute(tar));
        }

        var config = new ImageConfig
        {
            Architecture = Platform.Current.Architecture,
            Os = "linux",
            Config = new RuntimeConfig { Cmd = ["/bin/sh"], Env = ["PATH=/usr/bin:/bin"] },
            Rootfs = new RootFs { DiffIds = diffIds },
        };
        byte[] configBytes = OciJson.Serialize(config);
        var configDescriptor = Descriptor.FromContent(MediaTypes.OciConfig, configBytes);
        await layout.PushBlobAsync(configDescriptor, new MemoryStream(configBytes));
        var manifest = ManifestDocument.From(new ImageManifest { Config = configDescriptor, Layers = layers });
        await layout.PushManifestAsync(manifest, tag);
        return ImageReference.Parse($"oci:{layoutPath}:{tag}");
    }

    public static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(data);
        }

        return output.ToArray();
    }

    /// <summary>Deterministic pseudo-random bytes.</summary>
    public static byte[] RandomBytes(int seed, int length)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
