using System.Globalization;
using ScottPlot;

namespace Accelerator.Benchmarks.Plots;

/// <summary>Renders the plots of docs/benchmarks/ from a scenario's data file.</summary>
public static class BenchmarkPlots
{
    /// <summary>The width of every plot, pixels.</summary>
    public const int Width = 800;

    /// <summary>The height of every plot, pixels.</summary>
    public const int Height = 450;

    /// <summary>The scenarios that have plots.</summary>
    public static IReadOnlyList<string> Scenarios { get; } = ["lazy", "p2p"];

    private static readonly IPalette Palette = new ScottPlot.Palettes.Category10();

    /// <summary>Renders the plots of <paramref name="scenario"/> from <paramref name="dataPath"/> into <paramref name="outputDirectory"/>; returns the files written.</summary>
    public static IReadOnlyList<string> Render(string scenario, string dataPath, string outputDirectory)
    {
        Directory.CreateDirectory(outputDirectory);
        return scenario switch
        {
            "lazy" => RenderLazy(BenchmarkJson.Read<LazyData>(dataPath), outputDirectory),
            "p2p" => RenderP2P(BenchmarkJson.Read<P2PData>(dataPath), outputDirectory),
            _ => throw new ArgumentException($"No plots for scenario '{scenario}'; known: {string.Join(", ", Scenarios)}.", nameof(scenario)),
        };
    }

    /// <summary>lazy-cold-start.png (time and bytes fetched, lazy vs pull) and lazy-warm-reads.png (MB/s per workload).</summary>
    public static IReadOnlyList<string> RenderLazy(LazyData data, string outputDirectory)
    {
        ArgumentNullException.ThrowIfNull(data);
        const double Mb = 1e6;
        double lazyTime = Median(data.LazySeconds), pullTime = Median(data.PullSeconds);
        double lazyBytes = Median(data.LazyBytesFetched) / Mb;

        // Two groups side by side, each normalised to its own axis label: seconds on the left, MB on the right.
        var cold = new Plot();
        var timeBars = cold.Add.Bars(new[]
        {
            new Bar { Position = 0, Value = lazyTime, FillColor = Palette.GetColor(0), Label = Format(lazyTime, "s") },
            new Bar { Position = 1, Value = pullTime, FillColor = Palette.GetColor(1), Label = Format(pullTime, "s") },
        });
        timeBars.ValueLabelStyle.FontSize = 14;
        cold.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual([0, 1], ["lazy mount + reads", "accel pull + reads"]);
        cold.Title("Cold start through a capped registry (median)");
        cold.YLabel("seconds to the last read");
        cold.Axes.Margins(bottom: 0);
        string coldPath = Path.Combine(outputDirectory, "lazy-cold-start.png");
        cold.SavePng(coldPath, Width, Height);

        var bytes = new Plot();
        var byteBars = bytes.Add.Bars(new[]
        {
            new Bar { Position = 0, Value = data.BytesRead / Mb, FillColor = Palette.GetColor(2), Label = Format(data.BytesRead / Mb, "MB") },
            new Bar { Position = 1, Value = lazyBytes, FillColor = Palette.GetColor(0), Label = Format(lazyBytes, "MB") },
            new Bar { Position = 2, Value = data.PullBytesFetched / Mb, FillColor = Palette.GetColor(1), Label = Format(data.PullBytesFetched / Mb, "MB") },
        });
        byteBars.ValueLabelStyle.FontSize = 14;
        bytes.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual([0, 1, 2], ["bytes the start read", "lazy: fetched", "accel pull: fetched"]);
        bytes.Title("Cold start: bytes read vs bytes fetched (median)");
        bytes.YLabel("MB");
        bytes.Axes.Margins(bottom: 0);
        string bytesPath = Path.Combine(outputDirectory, "lazy-bytes-fetched.png");
        bytes.SavePng(bytesPath, Width, Height);

        var warm = new Plot();
        string[] systems = ["native", "lazy mount", "squashfuse"];
        var bars = new List<Bar>();
        for (int i = 0; i < data.WarmReads.Count; i++)
        {
            var row = data.WarmReads[i];
            double?[] values = [row.Native, row.Lazy, row.Squashfuse];
            for (int s = 0; s < values.Length; s++)
            {
                bars.Add(new Bar { Position = i * 4 + s, Value = values[s] ?? 0, FillColor = Palette.GetColor(s == 0 ? 2 : s == 1 ? 0 : 3) });
            }
        }

        warm.Add.Bars(bars);
        warm.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            [.. Enumerable.Range(0, data.WarmReads.Count).Select(i => i * 4 + 1.0)],
            [.. data.WarmReads.Select(r => r.Workload.Replace(", ", "\n", StringComparison.Ordinal))]);
        for (int s = 0; s < systems.Length; s++)
        {
            warm.Legend.ManualItems.Add(new LegendItem { LabelText = systems[s], FillColor = Palette.GetColor(s == 0 ? 2 : s == 1 ? 0 : 3) });
        }

        warm.ShowLegend(Alignment.UpperRight);
        warm.Title("Warm reads of the 8 largest files (fio)");
        warm.YLabel("MB/s");
        warm.Axes.Margins(bottom: 0);
        string warmPath = Path.Combine(outputDirectory, "lazy-warm-reads.png");
        warm.SavePng(warmPath, Width, Height);
        return [coldPath, bytesPath, warmPath];
    }

    /// <summary>p2p-completion.png: the last client's completion time vs N, directly and through P2P.</summary>
    public static IReadOnlyList<string> RenderP2P(P2PData data, string outputDirectory)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Rows.Count == 0)
        {
            throw new InvalidDataException("The P2P data has no rows.");
        }

        // N doubles from row to row (1, 4, 16, 32): a log2 axis spreads the points evenly, labelled with N itself.
        double[] n = [.. data.Rows.Select(r => Math.Log2(Math.Max(1, r.N)))];
        var plot = new Plot();
        void Line(double[] ys, string label, int color, LinePattern pattern)
        {
            var line = plot.Add.Scatter(n, ys);
            line.LegendText = label;
            line.Color = Palette.GetColor(color);
            line.LineWidth = 2;
            line.MarkerSize = 8;
            line.LinePattern = pattern;
        }

        Line([.. data.Rows.Select(r => r.DirectMax)], "direct: last client", 1, LinePattern.Solid);
        Line([.. data.Rows.Select(r => r.P2PMax)], "P2P: last client", 0, LinePattern.Solid);
        Line([.. data.Rows.Select(r => r.P2PP50)], "P2P: median client", 0, LinePattern.Dashed);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(n, [.. data.Rows.Select(r => r.N.ToString(CultureInfo.InvariantCulture))]);
        plot.Title(string.Create(CultureInfo.InvariantCulture, $"N clients pull one {data.BlobMb:0} MB blob, registry capped at {data.Rate}"));
        plot.XLabel("clients (N, log scale)");
        double top = data.Rows.Max(r => Math.Max(r.DirectMax, r.P2PMax));
        plot.Axes.SetLimitsY(0, double.IsFinite(top) && top > 0 ? top * 1.1 : 1);
        plot.YLabel("completion time (s)");
        plot.ShowLegend(Alignment.UpperLeft);
        string path = Path.Combine(outputDirectory, "p2p-completion.png");
        plot.SavePng(path, Width, Height);
        return [path];
    }

    private static double Median(IReadOnlyList<double?> values)
    {
        double[] sorted = [.. values.Where(v => v is { } x && double.IsFinite(x)).Select(v => v!.Value).Order()];
        return sorted.Length == 0 ? 0 : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static string Format(double value, string unit) => string.Create(CultureInfo.InvariantCulture, $"{value:0.##} {unit}");
}
