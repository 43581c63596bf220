using System.CommandLine;
using System.Globalization;
using Accelerator.Block.Conversion;
using Accelerator.Block.Format;
using Accelerator.Block.Prefetch;
using Accelerator.Cli.Commands;
using Accelerator.Cli.Console;
using Accelerator.Oci.Resolution;

namespace Accelerator.Cli.Strategies;

/// <summary>
/// The block strategy in <c>accel</c>: virtual-disk mounts of images converted with <c>accel convert --format block</c>
/// (and, through <c>accel mount --strategy block file:PATH</c>, raw disk images; see <see cref="MountCommand"/>).
/// </summary>
internal sealed class BlockCliStrategy : CliStrategy
{
    /// <inheritdoc />
    public override Strategy Strategy => Strategy.Block;

    /// <inheritdoc />
    public override string Description => "block";

    private readonly Option<string?> _blockCacheDirectory = new("--block-cache-dir") { Description = "The block strategy's block cache (default: /var/cache/accel/blocks).", HelpName = "DIR" };

    /// <inheritdoc />
    public override CliConversion Conversion { get; } = new BlockConversion();

    /// <inheritdoc />
    public override IReadOnlyList<Option> MountOptions => [_blockCacheDirectory];

    /// <inheritdoc />
    public override void AddToMount(ImageAcceleratorBuilder builder, MountContext mount)
    {
        builder.UseBlockDevice(o =>
        {
            o.RequestTimeout = mount.Result.GetValue<TimeSpan?>(MountCommand.FetchTimeoutFlag) ?? o.RequestTimeout;
            o.CacheDirectory = mount.Result.GetValue(_blockCacheDirectory) is { } b ? Path.GetFullPath(b)
                : mount.CacheDirectory is { } c ? Path.Combine(c, "blocks")
                : null;
            o.TracePath = mount.TracePath;
            o.StateDirectory = mount.StateDirectory ?? o.StateDirectory;
            o.Takeover = mount.Takeover;
        });
    }

    /// <inheritdoc />
    public override bool IsInFormat(ResolvedImage image) => image.Layers.Any(l => l.MediaType == BlockFormat.IndexMediaType);

    /// <summary>
    /// <c>accel convert --format block</c>: a file system image cut into blocks, stored as <c>TAG-accel-block</c> by
    /// default; the prefetch list is a block trace (block addresses, as written by a <see cref="BlockTraceRecorder"/>).
    /// </summary>
    private sealed class BlockConversion : CliConversion
    {
        private readonly Option<string?> _blockSize = new("--block-size")
        {
            Description = "With --format block: the block size, a power of two from 4K to 1M (binary units: 4K, 64K; a number alone is bytes). Default: 64K.",
        };

        private readonly Option<string> _fileSystem = CreateFileSystemOption();

        private readonly Option<string?> _freeSpace = new("--free-space")
        {
            Description = "With --format block: free space left in the file system for a container's writes (512M, 1G; binary). Free blocks are not stored. Default: 1G.",
        };

        public override IReadOnlyList<Option> Options => [_blockSize, _fileSystem, _freeSpace];

        public override async Task<int> ConvertAsync(CommonOptions common, CliConsole console, ParseResult result, CancellationToken cancellationToken)
        {
            var from = ImageReference.Parse(result.GetValue<string>("SRC")!);
            var to = result.GetValue<string?>("DST") is { Length: > 0 } text ? ImageReference.Parse(text) : BlockConverter.DefaultTarget(from);
            if (result.GetValue<string?>("--chunk-size") is not null || result.GetValue<string?>("--chunk-dict") is not null)
            {
                throw new ArgumentException("--chunk-size and --chunk-dict apply to --format lazy; use --block-size with --format block.");
            }

            int size = result.GetValue(_blockSize) is { Length: > 0 } sizeText ? ConvertCommand.ParseBlockSize(sizeText) : BlockFormat.DefaultBlockSize;
            var fileSystem = result.GetValue(_fileSystem) == "ext4" ? BlockFileSystem.Ext4 : BlockFileSystem.Erofs;
            string freeText = result.GetValue(_freeSpace) ?? "";
            if (fileSystem == BlockFileSystem.Erofs && freeText.Length > 0)
            {
                throw new ArgumentException("--free-space applies to --filesystem ext4 (an EROFS image is read-only and has no free space).");
            }

            long free = freeText.Length > 0 ? Units.ParseBytes("--free-space", freeText, allowZero: true) : 1L << 30;
            IReadOnlyList<long>? trace = result.GetValue<string?>("--prefetch-list") is { Length: > 0 } tracePath ? BlockTraceRecorder.ReadFile(tracePath) : null;
            await using var accelerator = common.CreateBuilder(result).Build();
            var stores = CommonOptions.GetStores(accelerator);
            BlockConvertResult converted = await BlockConverter.ConvertAsync(
                stores.GetStore(from), from, stores.GetStoreForWrite(to), to,
                new BlockConvertOptions
                {
                    BlockSize = size,
                    FreeBytes = free,
                    FileSystem = fileSystem,
                    PrefetchBlocks = trace,
                    MaxParallelism = result.GetValue<int>("--parallel"),
                    Platform = common.GetPlatform(result),
                },
                cancellationToken).ConfigureAwait(false);
            if (converted.PrefetchMissing > 0)
            {
                console.Warn($"{converted.PrefetchMissing} entries of the block trace are outside the disk or repeated; they were skipped.");
            }

            console.WriteLine(
                $"Converted {from} to {to} ({converted.ManifestDigest}): {Units.Bytes(converted.DiskSize)} disk in {converted.Blocks} blocks of {Units.Bytes(converted.Index.BlockSize)}, " +
                $"{converted.ZeroBlocks} zero blocks skipped, {converted.DuplicateBlocks} duplicates, {converted.Index.StoredBlockCount} stored in {converted.DataBlobs} data blobs ({Units.Bytes(converted.DataBytes)}), " +
                string.Create(CultureInfo.InvariantCulture, $"index {Units.Bytes(converted.IndexSize)}, in {converted.Elapsed.TotalSeconds:F2} s."));
            return 0;
        }

        private static Option<string> CreateFileSystemOption()
        {
            var option = new Option<string>("--filesystem")
            {
                Description = "With --format block: the file system of the image, erofs (mkfs.erofs: read-only, the smaller kernel parser; the default) or ext4 (mke2fs -d: for disks a client writes through a copy-on-write layer).",
                DefaultValueFactory = _ => "erofs",
            };
            option.AcceptOnlyFromAmong("ext4", "erofs");
            return option;
        }
    }
}
