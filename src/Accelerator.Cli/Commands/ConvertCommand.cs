using System.CommandLine;
using System.Globalization;
using Accelerator.Block.Format;
using Accelerator.Cli.Console;
using Accelerator.Cli.Strategies;
using Accelerator.Lazy.Format;

namespace Accelerator.Cli.Commands;

/// <summary>
/// <c>accel convert SRC [DST] --format lazy|block</c>: convert an image into an accelerated image stored beside it, by
/// default as <c>TAG-accel</c> (<c>TAG-accel-block</c>) in the same repository or layout. The formats, their options
/// and conversions are those of the strategies in <see cref="CliStrategies"/>.
/// </summary>
internal static class ConvertCommand
{
    public static Command Create(CommonOptions common, CliConsole console)
    {
        var conversions = CliStrategies.Create().Where(s => s.Conversion is not null).ToDictionary(s => s.Name, s => s.Conversion!);
        var source = new Argument<string>("SRC") { Description = "The source image: host[:port]/repo[:tag|@digest] or oci:DIR[:TAG]." };
        var target = new Argument<string?>("DST")
        {
            Description = "Where to write the converted image (default: SRC's repository or layout with tag TAG-accel).",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var format = new Option<string>("--format")
        {
            Description = "The accelerated format: lazy (FUSE mount, chunks fetched on demand) or block.",
            DefaultValueFactory = _ => Strategy.Lazy.Name,
        };
        format.AcceptOnlyFromAmong([.. conversions.Keys]);
        var prefetchList = new Option<string?>("--prefetch-list")
        {
            Description = "A file of paths, one per line ('#' comments), that a mount fetches first (as written by accel mount --record-trace).",
        };
        var parallel = new Option<int>("--parallel")
        {
            Description = "Chunks compressed at once (the output does not depend on it). Default: the number of processors.",
            DefaultValueFactory = _ => Environment.ProcessorCount,
        };
        var command = new Command("convert", "Convert an image into an accelerated image stored beside it (tag TAG-accel, or TAG-accel-block).")
        {
            source, target, format, prefetchList, parallel,
        };
        // Each format's own options (lazy: --chunk-size, --chunk-dict; block: --block-size, --filesystem, --free-space).
        foreach (var option in conversions.Values.SelectMany(c => c.Options))
        {
            command.Options.Add(option);
        }

        command.SetAction(CommonOptions.Guard(console, (result, cancellationToken)
            => conversions[result.GetRequiredValue(format)].ConvertAsync(common, console, result, cancellationToken)));
        return command;
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
}
