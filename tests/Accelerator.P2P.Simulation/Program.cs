// Usage: Accelerator.P2P.Simulation [--peers 1000,10000] [--plot FILE.png] [--blob-mb 256] [--registry-mbit 200]
//        [--max-origin-reads N] (the scheduler's MaxOriginReadsPerTask; its default otherwise)
// Prints one markdown table row per swarm size: registry bytes / blob size, completion p50/p99/max, direct time.
using System.Globalization;
using Accelerator.P2P.Simulation;

var peers = new List<int> { 1000, 10000 };
string? plot = null;
long blobMb = 256;
double registryMbit = 200;
int? maxOriginReads = null;
for (int i = 0; i + 1 < args.Length; i += 2)
{
    switch (args[i])
    {
        case "--peers":
            peers = args[i + 1].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToList();
            break;
        case "--plot":
            plot = args[i + 1];
            break;
        case "--blob-mb":
            blobMb = long.Parse(args[i + 1], CultureInfo.InvariantCulture);
            break;
        case "--registry-mbit":
            registryMbit = double.Parse(args[i + 1], CultureInfo.InvariantCulture);
            break;
        case "--max-origin-reads":
            maxOriginReads = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
            break;
        default:
            Console.Error.WriteLine($"unknown option {args[i]}");
            return 1;
    }
}

var results = new List<SwarmResult>();
Console.WriteLine("| simulated peers | registry bytes ÷ blob | P2P p50 | P2P p99 | P2P max | p99 ÷ p50 | direct (all at once) | P2P max ÷ direct | schedule calls | wall clock |");
Console.WriteLine("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
foreach (int n in peers)
{
    var settings = new SwarmSettings { Peers = n, BlobBytes = blobMb << 20, RegistryBytesPerSecond = registryMbit * 1e6 / 8, MaxOriginReads = maxOriginReads };
    var result = new SwarmSimulation(settings).Run();
    results.Add(result);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"| {n:N0} | {result.RegistryBytesRatio:F3} | {result.P50Seconds:F1} s | {result.P99Seconds:F1} s | {result.MaxSeconds:F1} s | {result.P99Seconds / result.P50Seconds:F2} | {result.DirectSeconds:F0} s | 1/{result.DirectSeconds / result.MaxSeconds:F0} | {result.ScheduleCalls:N0} | {result.WallClock.TotalSeconds:F0} s |"));
}

Console.WriteLine();
Console.WriteLine("Where the time goes (averages per group of peers, seconds from each peer's start; download slots split into downloading, waiting on busy parents, idle):");
Console.WriteLine();
Console.WriteLine("| simulated peers | group | start | first piece | downloading | waiting for a parent slot | idle (nothing assigned) | done | 503 bounces |");
Console.WriteLine("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
foreach (var result in results)
{
    foreach (var row in result.Timeline)
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {result.Peers:N0} | {row.Group} | {row.Start:F2} s | {row.FirstPiece:F1} s | {row.Downloading:F1} s | {row.WaitingForSlot:F1} s | {row.Idle:F1} s | {row.Done:F1} s | {result.BusyBounces:N0} |"));
    }
}

if (plot is not null)
{
    var figure = new ScottPlot.Plot();
    foreach (var result in results)
    {
        double[] xs = [.. result.CompletionSeconds];
        double[] ys = Enumerable.Range(1, xs.Length).Select(i => 100.0 * i / xs.Length).ToArray();
        var line = figure.Add.ScatterLine(xs, ys);
        line.LegendText = string.Create(CultureInfo.InvariantCulture, $"{result.Peers:N0} peers (P2P; direct: {result.DirectSeconds:F0} s)");
        line.LineWidth = 2;
    }

    // The floor: the registry sending one copy of the blob.
    var floor = figure.Add.VerticalLine(blobMb * 1048576.0 * 8 / (registryMbit * 1e6));
    floor.LegendText = string.Create(CultureInfo.InvariantCulture, $"one copy from the registry ({blobMb * 1048576.0 * 8 / (registryMbit * 1e6):F1} s)");
    floor.LinePattern = ScottPlot.LinePattern.Dashed;
    floor.Color = ScottPlot.Colors.Gray;
    figure.Title(string.Create(CultureInfo.InvariantCulture, $"Simulated P2P pull of a {blobMb} MB blob, registry at {registryMbit} Mbit/s"));
    figure.XLabel("completion time (s)");
    figure.YLabel("peers done (%)");
    figure.ShowLegend(ScottPlot.Alignment.LowerRight);
    figure.SavePng(plot, 900, 500);
    Console.Error.WriteLine($"plot written to {plot}");
}

return 0;
