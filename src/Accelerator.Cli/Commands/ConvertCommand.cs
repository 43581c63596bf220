using System.CommandLine;
using System.Globalization;
using Accelerator.Block.Conversion;
using Accelerator.Block.Format;
using Accelerator.Block.Prefetch;
using Accelerator.Cli.Console;
using Accelerator.Lazy.Conversion;
using Accelerator.Lazy.Format;

namespace Accelerator.Cli.Commands;

/// <summary>
/// <c>accel convert SRC [DST] --format lazy</c>: convert an image into a lazy image (bootstrap + chunk blobs) stored
/// beside it, by default as <c>TAG-accel</c> in the same repository or layout.
/// </summary>
internal static class ConvertCommand
{
    public static Command Create(CommonOptions common, CliConsole console)
    {
        var source = new Argument<string>("SRC") { Description = "The source image: host[:port]/repo[:tag|@digest] or oci:DIR[:TAG]." };
        var target = new Argument<string?>("DST")
        {
            Description = "Where to write the converted image (default: SRC's repository or layout with tag TAG-accel).",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var format = new Option<string>("--format")
        {
            Description = "The accelerated format: lazy (FUSE mount, chunks fetched on demand) or block.",
            DefaultValueFactory = _ => "lazy",
        };
        format.AcceptOnlyFromAmong("lazy", "block");
        var chunkSize = new Option<string?>("--chunk-size")
        {
            Description = "Chunk size, a power of two from 64K to 16M (binary units: 64K, 1M; a number alone is bytes). Default: 1M.",
        };
        var chunkDictionary = new Option<string?>("--chunk-dict")
        {
            Description = "An earlier lazy image whose chunks are reused by reference (its data blobs are listed, not stored again).",
        };
        var prefetchList = new Option<string?>("--prefetch-list")
        {
            Description = "A file of paths, one per line ('#' comments), that a mount fetches first (as written by accel mount --record-trace).",
        };
        var parallel = new Option<int>("--parallel")
        {
            Description = "Chunks compressed at once (the output does not depend on it). Default: the number of processors.",
            DefaultValueFactory = _ => Environment.ProcessorCount,
        };
        var blockSize = new Option<string?>("--block-size")
        {
            Description = "With --format block: the block size, a power of two from 4K to 1M (binary units: 4K, 64K; a number alone is bytes). Default: 64K.",
        };
        var fileSystem = new Option<string>("--filesystem")
        {
            Description = "With --format block: the file system of the image, erofs (mkfs.erofs: read-only, the smaller kernel parser; the default) or ext4 (mke2fs -d: for disks a client writes through a copy-on-write layer).",
            DefaultValueFactory = _ => "erofs",
        };
        fileSystem.AcceptOnlyFromAmong("ext4", "erofs");
        var freeSpace = new Option<string?>("--free-space")
        {
            Description = "With --format block: free space left in the file system for a container's writes (512M, 1G; binary). Free blocks are not stored. Default: 1G.",
        };
        var command = new Command("convert", "Convert an image into an accelerated image stored beside it (tag TAG-accel, or TAG-accel-block).")
        {
            source, target, format, chunkSize, chunkDictionary, prefetchList, parallel, blockSize, fileSystem, freeSpace,
        };
        command.SetAction(CommonOptions.Guard(console, async (result, cancellationToken) =>
        {
            if (result.GetValue(format) == "block")
            {
                return await ConvertBlockAsync(common, console, result, cancellationToken).ConfigureAwait(false);
            }

            var from = ImageReference.Parse(result.GetRequiredValue(source));
            var to = result.GetValue(target) is { Length: > 0 } text ? ImageReference.Parse(text) : LazyConverter.DefaultTarget(from);
            int size = result.GetValue(chunkSize) is { } sizeText ? ParseSize(sizeText) : LazyFormat.DefaultChunkSize;
            IReadOnlyList<string>? prefetch = result.GetValue(prefetchList) is { } listPath ? ReadPrefetchList(listPath) : null;
            await using var accelerator = common.CreateBuilder(result).Build();
            var stores = CommonOptions.GetStores(accelerator);
            LazyImage? dictionary = null;
            if (result.GetValue(chunkDictionary) is { } dictionaryText)
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
                    MaxParallelism = result.GetValue(parallel),
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
        }));
        return command;
    }

    // --format block: the prefetch list is a block trace (block addresses, as written by a BlockTraceRecorder).
    private static async Task<int> ConvertBlockAsync(CommonOptions common, CliConsole console, ParseResult result, CancellationToken cancellationToken)
    {
        string GetText(string name) => result.GetValue<string?>(name) ?? "";
        var from = ImageReference.Parse(result.GetValue<string>("SRC")!);
        var to = result.GetValue<string?>("DST") is { Length: > 0 } text ? ImageReference.Parse(text) : BlockConverter.DefaultTarget(from);
        if (result.GetValue<string?>("--chunk-size") is not null || result.GetValue<string?>("--chunk-dict") is not null)
        {
            throw new ArgumentException("--chunk-size and --chunk-dict apply to --format lazy; use --block-size with --format block.");
        }

        int size = GetText("--block-size") is { Length: > 0 } sizeText ? ParseBlockSize(sizeText) : BlockFormat.DefaultBlockSize;
        var fileSystem = result.GetValue<string>("--filesystem") == "ext4" ? BlockFileSystem.Ext4 : BlockFileSystem.Erofs;
        if (fileSystem == BlockFileSystem.Erofs && GetText("--free-space").Length > 0)
        {
            throw new ArgumentException("--free-space applies to --filesystem ext4 (an EROFS image is read-only and has no free space).");
        }

        long free = GetText("--free-space") is { Length: > 0 } freeText ? Units.ParseBytes("--free-space", freeText, allowZero: true) : 1L << 30;
        IReadOnlyList<long>? trace = GetText("--prefetch-list") is { Length: > 0 } tracePath ? BlockTraceRecorder.ReadFile(tracePath) : null;
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

    /// <summary>Parses a block size (<see cref="Units.ParseBytes"/>): a power of two from 4K to 1M.</summary>
    internal static int ParseBlockSize(string text)
        => TryParseBytes("--block-size", text) is { } value && BlockFormat.IsValidBlockSize(value)
            ? (int)value
            : throw new ArgumentException($"Invalid --block-size '{text}': use a power of two from 4K to 1M.");

    /// <summary>Parses a chunk size (<see cref="Units.ParseBytes"/>): a power of two from 64K to 16M.</summary>
    internal static int ParseSize(string text)
        => TryParseBytes("--chunk-size", text) is { } value && LazyFormat.IsValidChunkSize(value)
            ? (int)value
            : throw new ArgumentException($"Invalid --chunk-size '{text}': use a power of two from 64K to 16M.");

    private static long? TryParseBytes(string option, string text)
    {
        try
        {
            return Units.ParseBytes(option, text);
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>Reads a prefetch list: one path per line; blank lines and lines starting with '#' are skipped.</summary>
    internal static IReadOnlyList<string> ReadPrefetchList(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists)
        {
            throw new FileNotFoundException($"The prefetch list {path} does not exist.");
        }

        if (info.Length > 64L << 20)
        {
            throw new ArgumentException($"The prefetch list {path} is larger than 64 MiB.");
        }

        return [.. File.ReadLines(path).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#'))];
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
