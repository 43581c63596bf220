using System.CommandLine;
using System.Diagnostics;
using Accelerator.Cli.Console;
using Accelerator.Lazy.Conversion;
using Accelerator.Oci.Layout;
using Accelerator.Oci.Samples;
using Spectre.Console;

namespace Accelerator.Cli.Commands;

/// <summary>
/// <c>accel demo</c>: builds a sample image into an OCI layout on disk and runs every available strategy on it
/// through the one facade, printing what each fetched and how long it took. Needs no registry and no setup.
/// </summary>
internal static class DemoCommand
{
    public static Command Create(CommonOptions common, CliConsole console)
    {
        var directory = new Option<string?>("--dir") { Description = "Work in DIR and keep what the demo made (default: a temporary directory, removed at the end)." };
        var size = new Option<int>("--size-mb") { Description = "Size of the sample image's files in MiB.", DefaultValueFactory = _ => 64 };
        var layers = new Option<int>("--layers") { Description = "Number of layers of the sample image.", DefaultValueFactory = _ => 4 };
        var command = new Command("demo", "Build a sample image and run every available strategy on it (no registry or setup needed).") { directory, size, layers };
        command.SetAction(CommonOptions.Guard(console, async (result, cancellationToken) =>
        {
            string? keep = result.GetValue(directory);
            string work = keep is null ? Directory.CreateTempSubdirectory("accel-demo-").FullName : Path.GetFullPath(keep);
            Directory.CreateDirectory(work);
            try
            {
                return await RunAsync(console, work, result.GetValue(size), result.GetValue(layers), cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                if (keep is null)
                {
                    Directory.Delete(work, recursive: true);
                }
            }
        }));
        return command;
    }

    private static async Task<int> RunAsync(CliConsole console, string work, int sizeMb, int layerCount, CancellationToken cancellationToken)
    {
        if (sizeMb is < 1 or > 16384 || layerCount is < 1 or > 128)
        {
            throw new ArgumentException("--size-mb must be 1..16384 and --layers 1..128.");
        }

        string layout = Path.Combine(work, "layout");
        var build = Stopwatch.StartNew();
        var sample = await SampleImageGenerator.WriteLayoutAsync(layout, new SampleImageOptions
        {
            LayerCount = layerCount,
            TotalSize = sizeMb * 1024L * 1024L,
            Seed = 2026,
            Architecture = Platform.Current.Architecture,
        }, cancellationToken).ConfigureAwait(false);
        console.WriteLine(
            $"Built sample image {sample.OciReference}: {sample.Layers.Count} layers, {sample.Files.Count} files, " +
            $"{Units.Bytes(sample.Layers.Sum(l => l.Size))} compressed, in {build.Elapsed.TotalSeconds:F2} s.");

        // The lazy strategy needs the image converted once: the lazy variant is stored beside it as TAG-accel.
        var source = ImageReference.Parse(sample.OciReference);
        var layoutStore = OciImageLayout.Open(layout);
        var convert = Stopwatch.StartNew();
        await LazyConverter.ConvertAsync(layoutStore, source, layoutStore, LazyConverter.DefaultTarget(source), cancellationToken: cancellationToken).ConfigureAwait(false);
        console.WriteLine($"Converted it to the lazy format ({source.Tag}-accel) in {convert.Elapsed.TotalSeconds:F2} s.");

        var rows = new List<string[]>();
        foreach (var strategy in Enum.GetValues<Strategy>())
        {
            // One accelerator per strategy, so each row shows that strategy alone (the facade would pick the first
            // that can serve).
            await using var accelerator = new ImageAcceleratorBuilder()
                .UseLazyMount(o =>
                {
                    o.CacheDirectory = Path.Combine(work, "chunk-cache");
                    o.StateDirectory = Path.Combine(work, "state");
                })
                .UseFullPull()
                .PreferStrategies(strategy)
                .Build();
            if (accelerator.Strategies.Count == 0)
            {
                rows.Add([Name(strategy), "not available yet", "", "", ""]);
                continue;
            }

            string rootfs = Path.Combine(work, "rootfs-" + Name(strategy));
            if (strategy == Strategy.Lazy)
            {
                Directory.CreateDirectory(rootfs);
            }

            IMountedImage mounted;
            try
            {
                mounted = await accelerator.MountAsync(source, rootfs, new MountOptions { ReadOnly = strategy == Strategy.Lazy }, cancellationToken).ConfigureAwait(false);
            }
            catch (InvalidOperationException ex)
            {
                rows.Add([Name(strategy), "unavailable here: " + ex.Message, "", "", ""]);
                continue;
            }

            await using (mounted)
            {
                long read = Verify(sample, mounted.MountPoint);
                var stats = mounted.Statistics;
                rows.Add([
                    Name(stats.Strategy),
                    $"{stats.TimeToReady.TotalSeconds:F2} s",
                    Units.Bytes(stats.BytesFetched),
                    Units.Bytes(stats.Strategy == Strategy.Full ? stats.BytesRead : read),
                    Units.Bytes(stats.BytesFetchedBySource.Values.Sum()),
                ]);
            }
        }

        string[] headers = ["strategy", "time to ready", "bytes fetched", "bytes read", "registry bytes"];
        if (console.Interactive)
        {
            var table = new Table().AddColumns(headers);
            foreach (var row in rows)
            {
                table.AddRow(row.Select(Markup.Escape).ToArray());
            }

            AnsiConsole.Write(table);
        }
        else
        {
            console.WriteLine(string.Join(" | ", headers));
            foreach (var row in rows)
            {
                console.WriteLine(string.Join(" | ", row));
            }
        }

        console.WriteLine($"Every mounted tree was read through and checked: {sample.Files.Count} files with the generated sizes.");
        return 0;
    }

    /// <summary>Reads every generated file through the mount and checks its size; returns the bytes read.</summary>
    private static long Verify(SampleImage sample, string rootfs)
    {
        long total = 0;
        byte[] buffer = new byte[1 << 20];
        foreach (var (path, size) in sample.Files)
        {
            string file = Path.Combine(rootfs, path.TrimStart('/'));
            long length = 0;
            using (var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan))
            {
                int n;
                while ((n = stream.Read(buffer)) > 0)
                {
                    length += n;
                }
            }

            if (length != size)
            {
                throw new InvalidOperationException($"The mounted tree at {rootfs} has {path} with {length} bytes, not {size}.");
            }

            total += length;
        }

        return total;
    }

    private static string Name(Strategy strategy) => strategy.ToString().ToLowerInvariant();
}
