using System.CommandLine;
using System.Diagnostics;
using Accelerator.Cli.Console;
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

        var rows = new List<string[]>();
        await using (var accelerator = new ImageAcceleratorBuilder().UseFullPull().Build())
        {
            foreach (var strategy in Enum.GetValues<Strategy>())
            {
                if (!accelerator.Strategies.Contains(strategy))
                {
                    rows.Add([Name(strategy), "not available yet", "", "", ""]);
                    continue;
                }

                string rootfs = Path.Combine(work, "rootfs-" + Name(strategy));
                await using var mounted = await accelerator.MountAsync(ImageReference.Parse(sample.OciReference), rootfs, new MountOptions(), cancellationToken).ConfigureAwait(false);
                Verify(sample, mounted.MountPoint);
                var stats = mounted.Statistics;
                rows.Add([
                    Name(stats.Strategy),
                    $"{stats.TimeToReady.TotalSeconds:F2} s",
                    Units.Bytes(stats.BytesFetched),
                    Units.Bytes(stats.BytesRead),
                    Units.Bytes(stats.BytesFetchedBySource.GetValueOrDefault("origin") + stats.BytesFetchedBySource.GetValueOrDefault("layout")),
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

        console.WriteLine($"Every mounted tree was checked: {sample.Files.Count} files with the generated sizes.");
        return 0;
    }

    private static void Verify(SampleImage sample, string rootfs)
    {
        foreach (var (path, size) in sample.Files)
        {
            var file = new FileInfo(Path.Combine(rootfs, path.TrimStart('/')));
            if (!file.Exists || file.Length != size)
            {
                throw new InvalidOperationException($"The mounted tree at {rootfs} lacks {path} or has the wrong size.");
            }
        }
    }

    private static string Name(Strategy strategy) => strategy.ToString().ToLowerInvariant();
}
