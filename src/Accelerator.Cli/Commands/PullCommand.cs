using System.CommandLine;
using Accelerator.Cli.Console;
using Accelerator.Oci;
using Accelerator.Oci.Pulling;

namespace Accelerator.Cli.Commands;

/// <summary><c>accel pull REF DIR</c>: full pull and safe unpack of the flattened root file system (the baseline).</summary>
internal static class PullCommand
{
    public static Command Create(CommonOptions common, CliConsole console)
    {
        var image = new Argument<string>("REF") { Description = "The image: host[:port]/repo[:tag|@digest] or oci:DIR[:TAG]." };
        var directory = new Argument<string>("DIR") { Description = "Where to write the root file system (must not exist, or be empty)." };
        var parallel = new Option<int>("--parallel") { Description = "Layers downloaded at once.", DefaultValueFactory = _ => 4 };
        var maxImageSize = MaxImageSizeOption();
        var command = new Command("pull", "Pull an image and unpack its flattened root file system into DIR.") { image, directory, parallel, maxImageSize };
        command.SetAction(CommonOptions.Guard(console, async (result, cancellationToken) =>
        {
            var reference = ImageReference.Parse(result.GetRequiredValue(image));
            string target = result.GetRequiredValue(directory);
            await using var accelerator = common.CreateBuilder(result).Build();
            var stores = CommonOptions.GetStores(accelerator);
            var pulled = await console.WithProgressAsync(sink => ImagePuller.PullAsync(
                stores.GetStore(reference),
                reference,
                target,
                new PullOptions
                {
                    Platform = common.GetPlatform(result),
                    MaxParallelDownloads = result.GetValue(parallel),
                    MaxImageBytes = result.GetValue(maxImageSize),
                    SourceName = ImageStoreResolver.SourceName(reference),
                    Progress = sink.IsActive ? new Progress(sink) : null,
                },
                cancellationToken)).ConfigureAwait(false);
            console.WriteLine(
                $"Pulled {reference} ({pulled.Image.Manifest.Digest}) into {pulled.TargetDirectory}: " +
                $"{Units.Count(pulled.Image.Layers.Count, "layer")}, {Units.Bytes(pulled.BytesFetched)} fetched, " +
                $"{pulled.Entries} entries, {Units.Bytes(pulled.BytesWritten)} written in {pulled.Elapsed.TotalSeconds:F2} s.");
            if (stores.Mirrors is not null && pulled.BytesFetchedBySource.Count > 0)
            {
                console.WriteLine("Fetched from: " + string.Join(", ", pulled.BytesFetchedBySource
                    .OrderByDescending(s => s.Value)
                    .Select(s => $"{s.Key} {Units.Bytes(s.Value)}")) + ".");
            }

            return 0;
        }));
        return command;
    }

    private sealed class Progress(ProgressSink sink) : IProgress<MountProgress>
    {
        public void Report(MountProgress value)
        {
            if (value.Stage == "download")
            {
                sink.Report(value.Item, "download " + value.Item[7..19], value.Completed, value.Total);
            }
            else
            {
                sink.Report("unpack", "unpack layers", value.Completed, value.Total);
            }
        }
    }

    /// <summary><c>--max-image-size SIZE</c>: the most bytes an image's layers may unpack to together (pull, and mount's full strategy).</summary>
    internal static Option<long?> MaxImageSizeOption() => Flags.Size(
        "--max-image-size",
        "The most bytes all layers of the image may unpack to together (512, 64K, 100M, 10G, 1T); more fails cleanly and leaves nothing behind (default: no limit but 64 GiB per layer).");
}
