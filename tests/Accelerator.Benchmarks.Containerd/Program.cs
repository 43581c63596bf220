// Usage: Accelerator.Benchmarks.Containerd --image REF --sandbox-image REF [--plain-http HOST:PORT]... [--snapshotter-address SOCK]
//        [--result FILE] -- COMMAND [ARG...]
// One run of scripts/bench.sh containerd: a fresh private containerd with the CRI plugin (containerd's overlayfs
// snapshotter, or with --snapshotter-address the proxy snapshotter "accel" on that socket), the sandbox image pulled
// first (not timed: a node has it), then PullImage → RunPodSandbox (host network) → CreateContainer → StartContainer →
// the container's command exits, timed call by call. Writes one JSON object (to --result, else standard output); exits
// 0 when the container exited 0.
using System.Globalization;
using System.Text.Json;
using Accelerator.Benchmarks.Containerd;
using Accelerator.Testing.Cri;
using Accelerator.Testing.Processes;

RunSettings settings;
try
{
    settings = RunSettings.Parse(args);
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine(ex.Message);
    return 2;
}

var options = new ContainerdProcessOptions
{
    Cri = new ContainerdCriOptions { SandboxImage = settings.SandboxImage, Snapshotter = settings.SnapshotterAddress is null ? "overlayfs" : "accel" },
};
foreach (string registry in settings.PlainHttpRegistries)
{
    options.Cri.PlainHttpRegistries.Add(registry);
}

if (settings.SnapshotterAddress is { } address)
{
    options.ProxySnapshotters["accel"] = address;
}

await using var containerd = await ContainerdProcess.StartAsync(options).ConfigureAwait(false);
using var cri = CriClient.Connect(containerd.Address);
await cri.PullImageAsync(settings.SandboxImage).ConfigureAwait(false);

var result = await CriStart.RunAsync(cri, settings.Image, settings.Command, Path.Combine(containerd.Directory, "pods"), TimeProvider.System).ConfigureAwait(false);
string json = JsonSerializer.Serialize(result with { Snapshotter = options.Cri.Snapshotter }, CriStartResultContext.Default.CriStartResult);
if (settings.ResultPath is { } path)
{
    await File.WriteAllTextAsync(path, json + "\n").ConfigureAwait(false);
}
else
{
    Console.WriteLine(json);
}

Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"{options.Cri.Snapshotter}: pull {result.PullSeconds:F3} s, sandbox {result.SandboxSeconds:F3} s, create {result.CreateSeconds:F3} s, start {result.StartSeconds:F3} s, run {result.RunSeconds:F3} s; total {result.TotalSeconds:F3} s; exit {result.ExitCode}"));
return result.ExitCode == 0 ? 0 : 1;
