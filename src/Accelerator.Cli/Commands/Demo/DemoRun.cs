using System.Diagnostics;
using System.Globalization;
using Accelerator.Block.Conversion;
using Accelerator.Cli.Console;
using Accelerator.Lazy.Conversion;
using Accelerator.Hosting.Layout;
using Accelerator.Oci.Layout;
using Accelerator.Cli.Commands.Demo.Samples;
using Microsoft.Extensions.DependencyInjection;
using Spectre.Console;

namespace Accelerator.Cli.Commands.Demo;

/// <summary>
/// One run of <c>accel demo</c>: a sample image in an OCI layout (with its lazy and block variants), served by an
/// in-process read-only registry that counts what it serves, and every strategy run on it through the library.
/// Everything it starts is stopped and everything it mounts unmounted by the time <see cref="RunAsync"/> returns,
/// cancelled or not.
/// </summary>
internal sealed partial class DemoRun
{
    /// <summary>The repository the sample image is served under.</summary>
    public const string Repository = "demo/sample";

    // Every strategy reads the same files: one in ReadStride of the image's files, by path order (about 6%).
    private const int ReadStride = 16;

    // What the strategies cache between mounts, under the work directory.
    private static readonly string[] CacheDirectories = ["p2p", "lazy-cache", "block-cache", "snapshots"];

    private readonly CliConsole _console;
    private readonly string _work;
    private readonly SampleImage _sample;
    private readonly IReadOnlyList<KeyValuePair<string, long>> _readSet;
    private OciLayoutRegistryServer _origin = null!;
    private ImageReference _image = null!;
    private string? _blockUnavailable;

    private DemoRun(CliConsole console, string work, SampleImage sample)
    {
        _console = console;
        _work = work;
        _sample = sample;
        _readSet = [.. sample.Files.OrderBy(f => f.Key, StringComparer.Ordinal).Where((_, i) => i % ReadStride == 0)];
    }

    /// <summary>
    /// Builds the sample image in <paramref name="work"/>, runs every strategy on it and returns one row each, and the
    /// line that says what was read.
    /// </summary>
    public static async Task<(IReadOnlyList<DemoResult> Results, string Footer)> RunAsync(CliConsole console, string work, int sizeMb, int layerCount, CancellationToken cancellationToken)
    {
        // A kept directory (--dir) from an earlier run: start every strategy cold, or the figures would show its caches.
        foreach (string cache in CacheDirectories)
        {
            if (Directory.Exists(Path.Combine(work, cache)))
            {
                Directory.Delete(Path.Combine(work, cache), recursive: true);
            }
        }

        string layoutPath = Path.Combine(work, "layout");
        var clock = Stopwatch.StartNew();
        var sample = await SampleImageGenerator.WriteLayoutAsync(layoutPath, new SampleImageOptions
        {
            LayerCount = layerCount,
            TotalSize = sizeMb * 1024L * 1024L,
            Seed = 2026,
            Architecture = Platform.Current.Architecture,
        }, cancellationToken).ConfigureAwait(false);
        console.WriteLine(
            $"Built sample image {sample.OciReference}: {sample.Layers.Count} layers, {sample.Files.Count} files, " +
            $"{Units.Bytes(sample.Layers.Sum(l => l.Size))} compressed, in {Seconds(clock.Elapsed)}.");

        var run = new DemoRun(console, work, sample);
        var layout = OciImageLayout.Open(layoutPath);
        await run.ConvertAsync(layout, cancellationToken).ConfigureAwait(false);

        await using var origin = await OciLayoutRegistryServer.StartAsync(
            layout, new OciLayoutRegistryServerOptions { Repository = Repository }, cancellationToken: cancellationToken).ConfigureAwait(false);
        run._origin = origin;
        run._image = origin.GetReference(sample.Tag);
        console.WriteLine($"Serving the layout as the registry {run._image} (plain HTTP; the \"registry bytes\" column counts what it served).");

        var results = new List<DemoResult>();
        // On a terminal a spinner on stderr says which strategy is running; redirected output stays quiet.
        var status = console.Interactive ? AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(console.ErrorOut) }).Status() : null;
        foreach (var (name, strategy) in run.Strategies())
        {
            results.Add(status is null
                ? await run.RunOneAsync(name, strategy, cancellationToken).ConfigureAwait(false)
                : await status.StartAsync($"Running {name}…", _ => run.RunOneAsync(name, strategy, cancellationToken)).ConfigureAwait(false));
        }

        return (results, run.Footer(results));
    }

    private string Footer(IReadOnlyList<DemoResult> results) => string.Create(CultureInfo.InvariantCulture,
        $"Every strategy that ran read the same {_readSet.Count} of the image's {_sample.Files.Count} files " +
        $"({Units.Bytes(_readSet.Sum(f => f.Value))}) through its mount and checked their sizes; {results.Count(r => r.Ran)} of {results.Count} strategies ran.");

    private IEnumerable<(string Name, Func<CancellationToken, Task<DemoResult>> Run)> Strategies() =>
    [
        ("full", RunFullAsync),
        ("mirrors", RunMirrorsAsync),
        ("p2p", RunP2PAsync),
        ("lazy", RunLazyAsync),
        ("block", RunBlockAsync),
        ("cache", RunCacheAsync),
    ];

    private async Task<DemoResult> RunOneAsync(string name, Func<CancellationToken, Task<DemoResult>> strategy, CancellationToken cancellationToken)
    {
        try
        {
            return await strategy(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return new DemoResult(name, null, 0, 0, 0, "failed: " + ex.Message.ReplaceLineEndings(" ").Trim());
        }
    }

    /// <summary>Converts the sample to the lazy format and, when the tools are there, to the block format, beside it in the layout.</summary>
    private async Task ConvertAsync(OciImageLayout layout, CancellationToken cancellationToken)
    {
        var source = ImageReference.Parse(_sample.OciReference);
        var clock = Stopwatch.StartNew();
        await LazyConverter.ConvertAsync(layout, source, layout, LazyConverter.DefaultTarget(source), cancellationToken: cancellationToken).ConfigureAwait(false);
        _console.WriteLine($"Converted it to the lazy format ({_sample.Tag}-accel) in {Seconds(clock.Elapsed)}.");

        if (!Environment.IsPrivilegedProcess)
        {
            // The block row is skipped as needing root; the converter would refuse anyway.
            return;
        }

        clock.Restart();
        try
        {
            await BlockConverter.ConvertAsync(layout, source, layout, BlockConverter.DefaultTarget(source), new BlockConvertOptions
            {
                FreeBytes = 16L << 20,
                TempDirectory = _work,
            }, cancellationToken).ConfigureAwait(false);
            _console.WriteLine($"Converted it to the block format ({_sample.Tag}-accel-block, ext4) in {Seconds(clock.Elapsed)}.");
        }
        catch (Exception ex) when (ex is InvalidOperationException or UnauthorizedAccessException or System.ComponentModel.Win32Exception or IOException)
        {
            // Not root, no mke2fs (e2fsprogs), or it failed: the block row says why.
            _blockUnavailable = "the block conversion failed: " + ex.Message.ReplaceLineEndings(" ").Trim();
        }
    }

    /// <summary>An accelerator builder that reads the demo's registry over plain HTTP.</summary>
    private ImageAcceleratorBuilder NewBuilder()
        => new ImageAcceleratorBuilder().AddRegistry(_origin.Host, host => host.PlainHttp = true);

    /// <summary>Why <paramref name="accelerator"/>'s mounter for <paramref name="strategy"/> cannot serve the image, or null.</summary>
    private async Task<string?> CannotMountAsync(ImageAcceleratorHost accelerator, Strategy strategy, CancellationToken cancellationToken)
    {
        var mounter = accelerator.Services.GetServices<IImageMounter>().First(m => m.Strategy == strategy);
        var (canMount, reason) = await mounter.CanMountAsync(_image, cancellationToken).ConfigureAwait(false);
        return canMount ? null : reason ?? "unavailable here";
    }

    /// <summary>Reads the read set under <paramref name="root"/>, checking each file's size; returns the bytes read.</summary>
    private long ReadFiles(string root)
    {
        long total = 0;
        byte[] buffer = new byte[1 << 20];
        foreach (var (path, size) in _readSet)
        {
            string file = Path.Combine(root, path.TrimStart('/'));
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
                throw new InvalidDataException($"the mounted tree at {root} has {path} with {length} bytes, not {size}.");
            }

            total += length;
        }

        return total;
    }

    private static string Seconds(TimeSpan elapsed) => string.Create(CultureInfo.InvariantCulture, $"{elapsed.TotalSeconds:F2} s");
}
