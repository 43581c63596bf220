// One source, two assemblies: Accelerator.Testing (for tests) and accel (for `accel demo`), which compiles this file
// as a link under its own namespace so a test project referencing both sees no duplicate type.
#if ACCEL_CLI
namespace Accelerator.Cli.Commands.Demo.Samples;
#else
namespace Accelerator.Testing.Samples;
#endif

/// <summary>What <see cref="SampleImageGenerator"/> generates.</summary>
public sealed record SampleImageOptions
{
    /// <summary>The number of layers. <value>Default: 3.</value></summary>
    public int LayerCount { get; init; } = 3;

    /// <summary>The total size of the files' content over all layers, in bytes. <value>Default: 8 MiB.</value></summary>
    public long TotalSize { get; init; } = 8L * 1024 * 1024;

    /// <summary>The seed: the same seed and options give the same bytes. <value>Default: 1.</value></summary>
    public int Seed { get; init; } = 1;

    /// <summary>The share of files (by size) filled with compressible text rather than random bytes. <value>Default: 0.5.</value></summary>
    public double CompressibleFraction { get; init; } = 0.5;

    /// <summary>The tag written to the layout's index.json. <value>Default: <c>latest</c>.</value></summary>
    public string Tag { get; init; } = "latest";

    /// <summary>The architecture in the config. <value>Default: <c>amd64</c>.</value></summary>
    public string Architecture { get; init; } = "amd64";

    /// <summary>The gzip level of the layers. <value>Default: <see cref="System.IO.Compression.CompressionLevel.Fastest"/>.</value></summary>
    public System.IO.Compression.CompressionLevel CompressionLevel { get; init; } = System.IO.Compression.CompressionLevel.Fastest;

    internal void Validate()
    {
        if (LayerCount is < 1 or > 1000)
        {
            throw new ArgumentOutOfRangeException(nameof(LayerCount), LayerCount, "Between 1 and 1000 layers.");
        }

        if (TotalSize < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(TotalSize), TotalSize, "Must not be negative.");
        }

        if (CompressibleFraction is < 0 or > 1 || double.IsNaN(CompressibleFraction))
        {
            throw new ArgumentOutOfRangeException(nameof(CompressibleFraction), CompressibleFraction, "Between 0 and 1.");
        }

        ArgumentException.ThrowIfNullOrEmpty(Tag);
        ArgumentException.ThrowIfNullOrEmpty(Architecture);
    }
}

/// <summary>An image written by <see cref="SampleImageGenerator"/>.</summary>
/// <param name="LayoutPath">The OCI layout directory.</param>
/// <param name="Tag">The tag in the layout.</param>
/// <param name="Manifest">The manifest's descriptor.</param>
/// <param name="Config">The config's descriptor.</param>
/// <param name="Layers">The layers' descriptors, lowest first (gzip tar).</param>
/// <param name="Files">The regular files of the image, path (relative) to size, in layer order.</param>
public sealed record SampleImage(string LayoutPath, string Tag, Descriptor Manifest, Descriptor Config, IReadOnlyList<Descriptor> Layers, IReadOnlyList<KeyValuePair<string, long>> Files)
{
    /// <summary>The image as an <c>oci:DIR:TAG</c> reference.</summary>
    public string OciReference => $"oci:{LayoutPath}:{Tag}";
}
