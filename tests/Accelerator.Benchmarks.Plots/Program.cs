using Accelerator.Benchmarks.Plots;

// Usage: Accelerator.Benchmarks.Plots SCENARIO DATA.json OUTPUT-DIR — renders the scenario's plots from the figures
// scripts/bench.sh recorded, and prints the path of every PNG written.
if (args.Length != 3 || !BenchmarkPlots.Scenarios.Contains(args[0], StringComparer.Ordinal))
{
    Console.Error.WriteLine($"usage: Accelerator.Benchmarks.Plots {string.Join('|', BenchmarkPlots.Scenarios)} DATA.json OUTPUT-DIR");
    return 2;
}

try
{
    foreach (string path in BenchmarkPlots.Render(args[0], args[1], args[2]))
    {
        Console.WriteLine(path);
    }

    return 0;
}
catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Text.Json.JsonException or InvalidDataException)
{
    Console.Error.WriteLine($"cannot plot {args[1]}: {ex.Message}");
    return 1;
}
