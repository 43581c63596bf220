using System.Collections.Concurrent;
using Accelerator.Testing.Images.Estargz;

namespace Accelerator.Testing.Images;

/// <summary>
/// Images of <see cref="DebianImageCorpus"/> converted by independent producers into formats that are read lazily
/// without our conversion: eStargz (the reference Go library, <see cref="EstargzTool"/>) and zstd:chunked (skopeo,
/// <see cref="ZstdChunkedTool"/>). Converted once and cached beside the corpus (keyed by the source image, the
/// producer and its options), so the ~25 s skopeo conversion of the layered image is paid once per machine.
/// </summary>
public static class SeekableCorpus
{
    /// <summary>The chunk size of the eStargz conversions: small, so that many files span several chunks.</summary>
    public const int EstargzChunkSize = 256 << 10;

    /// <summary>The files the eStargz conversions place before the prefetch landmark (where a layer has them).</summary>
    public static IReadOnlyList<string> EstargzPrioritizedFiles { get; } = ["etc/os-release", "usr/bin/dpkg"];

    private static readonly ConcurrentDictionary<string, Lazy<Task<DebianImage>>> Conversions = new(StringComparer.Ordinal);

    /// <summary>The corpus image <paramref name="name"/> with every layer converted to eStargz (annotations and diff IDs set).</summary>
    public static Task<DebianImage> GetEstargzAsync(string name, CancellationToken cancellationToken = default) =>
        Conversions.GetOrAdd("estargz/" + name, _ => new Lazy<Task<DebianImage>>(() => ConvertAsync(name, "estargz",
            $"estargz-producer {EstargzTool.ProducerSourceHash} chunk {EstargzChunkSize} prioritize {string.Join(',', EstargzPrioritizedFiles)}",
            (source, layout) => EstargzTool.ConvertImageAsync(source.LayoutPath, source.Tag, layout,
                new EstargzConversionOptions { ChunkSize = EstargzChunkSize, PrioritizedFiles = EstargzPrioritizedFiles })))).Value.WaitAsync(cancellationToken);

    /// <summary>The corpus image <paramref name="name"/> copied by skopeo with every layer recompressed as zstd:chunked.</summary>
    public static Task<DebianImage> GetZstdChunkedAsync(string name, CancellationToken cancellationToken = default) =>
        Conversions.GetOrAdd("zstd-chunked/" + name, _ => new Lazy<Task<DebianImage>>(async () =>
        {
            string skopeo = (await ExternalTool.RunAsync("skopeo", ["--version"]).ConfigureAwait(false)).Trim();
            return await ConvertAsync(name, "zstd-chunked", skopeo,
                (source, layout) => ZstdChunkedTool.ConvertImageAsync(source.LayoutPath, source.Tag, layout)).ConfigureAwait(false);
        })).Value.WaitAsync(cancellationToken);

    private static async Task<DebianImage> ConvertAsync(string name, string format, string producer, Func<DebianImage, string, Task> convert)
    {
        var source = await DebianImageCorpus.GetAsync(name).ConfigureAwait(false);
        string directory = await DebianImageCorpus.GetOrBuildAsync($"{name}-{format}", string.Join("\n", format, source.LayoutPath, producer),
            work => convert(source, Path.Combine(work, "layout"))).ConfigureAwait(false);
        return new DebianImage(source.Name, Path.Combine(directory, "layout"), source.LayerCount, source.Command, source.ExpectedOutput);
    }
}
