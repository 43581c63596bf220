using BenchmarkDotNet.Running;

// Runs the benchmarks named by the command line (BenchmarkDotNet's switcher: --filter, --job, --list…).
BenchmarkSwitcher.FromAssembly(typeof(Accelerator.Benchmarks.TarReadingBenchmarks).Assembly).Run(args);
