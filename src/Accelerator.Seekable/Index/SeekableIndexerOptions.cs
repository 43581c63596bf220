using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Accelerator.Seekable.Index;

/// <summary>Options of <see cref="SeekableIndexer"/> (<c>accel index</c>), checked by <see cref="SeekableIndexerOptionsValidator"/>.</summary>
public sealed class SeekableIndexerOptions
{
    /// <summary>
    /// Layers smaller than this are not indexed: the mounter fetches them whole (up to its own bound) and indexes them
    /// at mount time. <value>Default: 1 MiB.</value>
    /// </summary>
    [Range(0, long.MaxValue)]
    public long MinLayerSize { get; set; } = 1 << 20;

    /// <summary>Uncompressed bytes between two checkpoints. <value>Default: 4 MiB (64 KiB to 32 MiB).</value></summary>
    [Range(SeekableIndexArtifact.MinSpanSize, SeekableIndexArtifact.MaxSpanSize)]
    public int SpanSize { get; set; } = 4 << 20;

    /// <summary>
    /// Paths a mount reads first (absolute, in order), stored in the artifact and measured: the report gives the
    /// start-read amplification of these files. <value>Default: none.</value>
    /// </summary>
    [MaxLength(SeekableIndexArtifact.MaxPrefetchPaths)]
    public IReadOnlyList<string>? PrefetchList { get; set; }

    /// <summary>The platform whose manifest is indexed when the image is an index. <value>Default: the current platform.</value></summary>
    public Platform? Platform { get; set; }

    /// <summary>Whether to push the artifact (false: build and report only). <value>Default: true.</value></summary>
    public bool Publish { get; set; } = true;
}

/// <summary>Validates <see cref="SeekableIndexerOptions"/> (generated from its data annotations).</summary>
[OptionsValidator]
public sealed partial class SeekableIndexerOptionsValidator : IValidateOptions<SeekableIndexerOptions>
{
}
