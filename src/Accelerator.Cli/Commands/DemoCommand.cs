using System.CommandLine;
using Accelerator.Cli.Commands.Demo;
using Accelerator.Cli.Console;

namespace Accelerator.Cli.Commands;

/// <summary>
/// <c>accel demo</c>: builds a sample image into an OCI layout, serves it from an in-process registry and runs every
/// strategy on it through the library — full pull, mirrors, P2P, lazy, block, cache — printing for each the time to
/// ready, the bytes fetched, the bytes read and the bytes the registry served. Needs no registry and no setup; a
/// strategy this machine cannot run is shown as skipped, with the reason.
/// </summary>
internal static class DemoCommand
{
    public static Command Create(CommonOptions common, CliConsole console)
    {
        var directory = new Option<string?>("--dir") { Description = "Work in DIR and keep what the demo made (default: a temporary directory, removed at the end)." };
        var size = new Option<int>("--size-mb") { Description = "Size of the sample image's files in MiB.", DefaultValueFactory = _ => 64 };
        var layers = new Option<int>("--layers") { Description = "Number of layers of the sample image.", DefaultValueFactory = _ => 4 };
        var command = new Command("demo", "Build a sample image and run every strategy on it: full, mirrors, P2P, lazy, block, cache (no registry or setup needed).") { directory, size, layers };
        command.SetAction(CommonOptions.Guard(console, async (result, cancellationToken) =>
        {
            int sizeMb = result.GetValue(size);
            int layerCount = result.GetValue(layers);
            if (sizeMb is < 1 or > 16384 || layerCount is < 1 or > 128)
            {
                throw new ArgumentException("--size-mb must be 1..16384 and --layers 1..128.");
            }

            string? keep = result.GetValue(directory);
            string work = keep is null ? Directory.CreateTempSubdirectory("accel-demo-").FullName : Path.GetFullPath(keep);
            Directory.CreateDirectory(work);
            try
            {
                var (results, footer) = await DemoRun.RunAsync(console, work, sizeMb, layerCount, cancellationToken).ConfigureAwait(false);
                DemoResult.WriteTable(console, results);
                console.WriteLine(footer);
                return results.Any(r => r.Note.StartsWith("failed:", StringComparison.Ordinal)) ? 1 : 0;
            }
            finally
            {
                if (keep is null)
                {
                    RemoveWorkDirectory(console, work);
                }
            }
        }));
        return command;
    }

    private static void RemoveWorkDirectory(CliConsole console, string work)
    {
        try
        {
            Directory.Delete(work, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            console.Warn($"could not remove {work}: {ex.Message}");
        }
    }
}
