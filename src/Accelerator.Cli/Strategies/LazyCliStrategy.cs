using System.CommandLine;
using System.Globalization;
using Accelerator.Cli.Commands;
using Accelerator.Cli.Console;
using Accelerator.Lazy.Conversion;
using Accelerator.Lazy.Format;
using Accelerator.Oci.Resolution;

namespace Accelerator.Cli.Strategies;

/// <summary>
/// The lazy strategy in <c>accel</c>: FUSE mounts of images converted with <c>accel convert --format lazy</c>, and of
/// unconverted images whose layers are seekable (an <c>accel index</c> artifact, eStargz, zstd:chunked, small layers).
/// </summary>
internal sealed class LazyCliStrategy : CliStrategy
{
    /// <inheritdoc />
    public override Strategy Strategy => Strategy.Lazy;

    /// <inheritdoc />
    public override string Description => "lazy";

    /// <inheritdoc />
    private readonly Option<string?> _chunkCacheDirectory = new("--chunk-cache-dir") { Description = "The lazy strategy's chunk cache (default: /var/cache/accel/chunks).", HelpName = "DIR" };

    private readonly Option<bool> _verifyIndex = new("--verify-index")
    {
        Description = "Images mounted through a seekable index (accel index): fetch each indexed layer whole in the background, check it against its digest and the index; an index that lies fails every further read (EIO).",
    };

    public override CliConversion Conversion { get; } = new LazyConversion();

    public override IReadOnlyList<Option> MountOptions => [_chunkCacheDirectory, _verifyIndex];

    /// <inheritdoc />
    public override void AddToMount(ImageAcceleratorBuilder builder, MountContext mount)
    {
        builder.UseLazyMount(o =>
        {
            o.RequestTimeout = mount.Result.GetValue<TimeSpan?>(MountCommand.FetchTimeoutFlag) ?? o.RequestTimeout;
            o.CacheDirectory = mount.Result.GetValue(_chunkCacheDirectory) is { } c ? Path.GetFullPath(c) : mount.CacheDirectory;
            o.StatisticsJsonPath = mount.StatisticsPath;
            o.TracePath = mount.TracePath;
            o.Prefetch = true;
            o.StateDirectory = mount.StateDirectory ?? o.StateDirectory;
            o.Takeover = mount.Takeover;
            o.VerifyIndexedLayers = mount.Result.GetValue(_verifyIndex);
        });
    }

    /// <inheritdoc />
    public override bool IsInFormat(ResolvedImage image) => image.Layers.Any(l => l.MediaType == LazyFormat.BootstrapMediaType);

    /// <summary><c>accel convert --format lazy</c>: a bootstrap and chunk blobs, stored as <c>TAG-accel</c> by default.</summary>
    private sealed class LazyConversion : CliConversion
    {
        private readonly Option<string?> _chunkSize = new("--chunk-size")
        {
            Description = "Chunk size, a power of two from 64K to 16M (binary units: 64K, 1M; a number alone is bytes). Default: 1M.",
        };

        private readonly Option<string?> _chunkDictionary = new("--chunk-dict")
        {
            Description = "An earlier lazy image whose chunks are reused by reference (its data blobs are listed, not stored again).",
        };

        public override IReadOnlyList<Option> Options => [_chunkSize, _chunkDictionary];

        public override async Task<int> ConvertAsync(CommonOptions common, CliConsole console, ParseResult result, CancellationToken cancellationToken)
        {
            var from = ImageReference.Parse(result.GetValue<string>("SRC")!);
            var to = result.GetValue<string?>("DST") is { Length: > 0 } text ? ImageReference.Parse(text) : LazyConverter.DefaultTarget(from);
            int size = result.GetValue(_chunkSize) is { } sizeText ? ConvertCommand.ParseSize(sizeText) : LazyFormat.DefaultChunkSize;
            IReadOnlyList<string>? prefetch = result.GetValue<string?>("--prefetch-list") is { } listPath ? ConvertCommand.ReadPrefetchList(listPath) : null;
            await using var accelerator = common.CreateBuilder(result).Build();
            var stores = CommonOptions.GetStores(accelerator);
            LazyImage? dictionary = null;
            if (result.GetValue(_chunkDictionary) is { } dictionaryText)
            {
                var dictionaryReference = ImageReference.Parse(dictionaryText);
                dictionary = await LazyImage.LoadAsync(stores.GetStore(dictionaryReference), dictionaryReference, common.GetPlatform(result), cancellationToken: cancellationToken).ConfigureAwait(false);
            }

            var converted = await console.WithProgressAsync(sink => LazyConverter.ConvertAsync(
                stores.GetStore(from),
                from,
                stores.GetStoreForWrite(to),
                to,
                new LazyConvertOptions
                {
                    ChunkSize = size,
                    ChunkDictionary = dictionary,
                    PrefetchPaths = prefetch,
                    MaxParallelism = result.GetValue<int>("--parallel"),
                    Platform = common.GetPlatform(result),
                    Progress = sink.IsActive ? new Progress(sink) : null,
                },
                cancellationToken)).ConfigureAwait(false);

            if (converted.PrefetchMissing > 0)
            {
                console.Warn($"{converted.PrefetchMissing} paths of the prefetch list are not in the image; they were skipped.");
            }

            long imageBytes = converted.BootstrapSize + converted.DataBytes + converted.ReusedBytes;
            console.WriteLine(
                $"Converted {from} to {to} ({converted.ManifestDigest}): {converted.Bootstrap.InodeCount} inodes, " +
                $"{Units.Bytes(converted.FileBytes)} of files in {converted.Chunks} chunks, " +
                $"{converted.DataBlobs} new data blobs ({Units.Bytes(converted.DataBytes)})" +
                (dictionary is null ? "" : $", {Units.Bytes(converted.ReusedBytes)} reused from {converted.ReusedBlobs} blobs of the chunk dictionary") +
                $", bootstrap {Units.Bytes(converted.BootstrapSize)} " +
                string.Create(CultureInfo.InvariantCulture, $"({100.0 * converted.BootstrapSize / Math.Max(1, imageBytes):F2}% of the image), in {converted.Elapsed.TotalSeconds:F2} s."));
            return 0;
        }
    }

    private sealed class Progress(ProgressSink sink) : IProgress<LazyConvertProgress>
    {
        public void Report(LazyConvertProgress value)
        {
            string description = value.Stage switch
            {
                "read" => "read and chunk layers",
                "pack" => "pack chunks into blobs",
                _ => "push blobs",
            };
            sink.Report(value.Stage, description, value.Completed, value.Total);
        }
    }
}
