using System.CommandLine;
using System.Globalization;
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
            Description = "Chunk size, a power of two from 64K to 16M (bytes, or with a K/KiB/M/MiB suffix). Default: 1M.",
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
        var command = new Command("convert", "Convert an image into an accelerated image stored beside it (tag TAG-accel).")
        {
            source, target, format, chunkSize, chunkDictionary, prefetchList, parallel,
        };
        command.SetAction(CommonOptions.Guard(console, async (result, cancellationToken) =>
        {
            if (result.GetValue(format) == "block")
            {
                throw new NotSupportedException("--format block is not available yet; use --format lazy.");
            }

            var from = ImageReference.Parse(result.GetRequiredValue(source));
            var to = result.GetValue(target) is { Length: > 0 } text ? ImageReference.Parse(text) : LazyConverter.DefaultTarget(from);
            int size = result.GetValue(chunkSize) is { } sizeText ? ParseSize(sizeText) : LazyFormat.DefaultChunkSize;
            IReadOnlyList<string>? prefetch = result.GetValue(prefetchList) is { } listPath ? ReadPrefetchList(listPath) : null;
            var stores = common.CreateStores(result);
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

    /// <summary>Parses a size in bytes with an optional K, KiB, M or MiB suffix (powers of 1024).</summary>
    internal static int ParseSize(string text)
    {
        string value = text.Trim();
        long multiplier = 1;
        foreach (var (suffix, factor) in new[] { ("KiB", 1L << 10), ("MiB", 1L << 20), ("K", 1L << 10), ("M", 1L << 20) })
        {
            if (value.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
            {
                value = value[..^suffix.Length];
                multiplier = factor;
                break;
            }
        }

        if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long number) || number > int.MaxValue / multiplier
            || !LazyFormat.IsValidChunkSize(number * multiplier))
        {
            throw new ArgumentException($"Invalid --chunk-size '{text}': use a power of two from 64K to 16M.");
        }

        return (int)(number * multiplier);
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
