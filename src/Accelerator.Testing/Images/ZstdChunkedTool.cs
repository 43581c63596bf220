namespace Accelerator.Testing.Images;

/// <summary>
/// Produces zstd:chunked images with an independent implementation: skopeo (containers/image and containers/storage's
/// pkg/chunked compressor), <c>skopeo copy --dest-compress-format zstd:chunked</c>.
/// </summary>
public static class ZstdChunkedTool
{
    /// <summary>
    /// Copies <c>oci:SOURCE:TAG</c> to <c>oci:DESTINATION:TAG</c> with every layer recompressed as zstd:chunked
    /// (media type <c>tar+zstd</c>, manifest checksum and position annotations). Slow: ~25 s for the layered corpus image.
    /// </summary>
    public static Task ConvertImageAsync(string sourceLayout, string tag, string destinationLayout, CancellationToken cancellationToken = default)
        => ExternalTool.RunAsync("skopeo",
        [
            "copy", "--quiet", "--dest-compress-format", "zstd:chunked",
            $"oci:{sourceLayout}:{tag}", $"oci:{destinationLayout}:{tag}",
        ], cancellationToken: cancellationToken);
}
