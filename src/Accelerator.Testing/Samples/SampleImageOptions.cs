// One source, two assemblies: Accelerator.Testing (for tests) and accel (for `accel demo`), which compiles this file
// as a link under its own namespace so a test project referencing both sees no duplicate type.
using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

#if ACCEL_CLI
namespace Accelerator.Cli.Commands.Demo.Samples;
#else
namespace Accelerator.Testing.Samples;
#endif

/// <summary>What <see cref="SampleImageGenerator"/> generates, checked by <see cref="SampleImageOptionsValidator"/>.</summary>
public sealed record SampleImageOptions : IValidatableObject
{
    /// <summary>The number of layers. <value>Default: 3.</value></summary>
    [Range(1, 1000)]
    public int LayerCount { get; init; } = 3;

    /// <summary>The total size of the files' content over all layers, in bytes. <value>Default: 8 MiB.</value></summary>
    public long TotalSize { get; init; } = 8L * 1024 * 1024;

    /// <summary>The seed: the same seed and options give the same bytes. <value>Default: 1.</value></summary>
    public int Seed { get; init; } = 1;

    /// <summary>The share of files (by size) filled with compressible text rather than random bytes. <value>Default: 0.5.</value></summary>
    [Range(0.0, 1.0)]
    public double CompressibleFraction { get; init; } = 0.5;

    /// <summary>The tag written to the layout's index.json. <value>Default: <c>latest</c>.</value></summary>
    [Required]
    public string Tag { get; init; } = "latest";

    /// <summary>The architecture in the config. <value>Default: <c>amd64</c>.</value></summary>
    [Required]
    public string Architecture { get; init; } = "amd64";

    /// <summary>The gzip level of the layers. <value>Default: <see cref="System.IO.Compression.CompressionLevel.Fastest"/>.</value></summary>
    public System.IO.Compression.CompressionLevel CompressionLevel { get; init; } = System.IO.Compression.CompressionLevel.Fastest;

    /// <inheritdoc />
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        // Written here, not as [Range]: the generated message would print the upper bound long.MaxValue as 9.2E+18.
        if (TotalSize < 0)
        {
            yield return new ValidationResult($"{nameof(TotalSize)} must not be negative.");
        }
    }
}

/// <summary>Validates <see cref="SampleImageOptions"/> (generated from its data annotations and rules).</summary>
[OptionsValidator]
public sealed partial class SampleImageOptionsValidator : IValidateOptions<SampleImageOptions>
{
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
