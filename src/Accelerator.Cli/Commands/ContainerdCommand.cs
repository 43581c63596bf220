using System.CommandLine;
using Accelerator.Cli.Console;
using Accelerator.Containerd;
using Accelerator.Containerd.Pulling;
using Grpc.Core;

namespace Accelerator.Cli.Commands;

/// <summary>
/// <c>accel containerd pull REF</c>: pulls an image into containerd through its API with the labels a remote
/// snapshotter needs (what <c>ctr image pull</c> does not send), so <c>ctr run --snapshotter accel</c> starts lazily.
/// </summary>
internal static class ContainerdCommand
{
    public static Command Create(CommonOptions common, CliConsole console)
    {
        var command = new Command("containerd", "Work with containerd through its API.");
        command.Subcommands.Add(CreatePull(common, console));
        return command;
    }

    private static Command CreatePull(CommonOptions common, CliConsole console)
    {
        var image = new Argument<string>("REF") { Description = "The image: host[:port]/repo[:tag|@digest]; also the name of containerd's image record." };
        var address = new Option<string>("--address")
        {
            Description = "containerd's socket.",
            DefaultValueFactory = _ => ContainerdChannel.DefaultAddress,
            HelpName = "SOCK",
        };
        var ns = new Option<string>("--namespace") { Description = "The containerd namespace (the CRI plugin's is k8s.io).", DefaultValueFactory = _ => "default", HelpName = "NS" };
        var snapshotter = new Option<string>("--snapshotter")
        {
            Description = "The snapshotter to unpack into: accel (the accel snapshotter's proxy plugin: layers it serves are not downloaded) or any other, e.g. overlayfs.",
            DefaultValueFactory = _ => "accel",
            HelpName = "NAME",
        };
        var command = new Command(
            "pull",
            "Pull an image into containerd with the labels a remote snapshotter needs; the snapshotter's layers are not downloaded, the others are fetched and applied by containerd.")
        {
            image, address, ns, snapshotter,
        };
        command.SetAction(CommonOptions.Guard(console, async (result, cancellationToken) =>
        {
            var reference = ImageReference.Parse(result.GetRequiredValue(image));
            string socket = result.GetRequiredValue(address);
            string snapshotterName = result.GetRequiredValue(snapshotter);
            await using var accelerator = common.CreateBuilder(result).Build();
            var store = CommonOptions.GetStores(accelerator).GetStore(reference);
            using var channel = ContainerdChannel.ForUnixSocket(socket);
            var puller = new ContainerdImagePuller(channel.CreateCallInvoker(), new ContainerdPullOptions
            {
                Namespace = result.GetRequiredValue(ns),
                Snapshotter = snapshotterName,
                Platform = common.GetPlatform(result),
                Progress = new LayerPrinter(layer => console.WriteLine(Describe(layer, snapshotterName))),
            });
            ContainerdPullResult pulled;
            try
            {
                pulled = await puller.PullAsync(store, reference, cancellationToken).ConfigureAwait(false);
            }
            catch (ContainerdException ex) when (ex.StatusCode == StatusCode.Unavailable)
            {
                throw new IOException($"cannot reach containerd at {socket}: {ex.Message}", ex);
            }

            var counts = pulled.Layers.GroupBy(l => l.Outcome).ToDictionary(g => g.Key, g => g.Count());
            console.WriteLine(
                $"Pulled {reference} ({pulled.Manifest}) into containerd (namespace {result.GetRequiredValue(ns)}, snapshotter {snapshotterName}): " +
                $"{Units.Count(pulled.Layers.Count, "layer")} ({counts.GetValueOrDefault(ContainerdLayerOutcome.Remote)} remote, " +
                $"{counts.GetValueOrDefault(ContainerdLayerOutcome.Applied)} fetched and applied, {counts.GetValueOrDefault(ContainerdLayerOutcome.Present)} already present), " +
                $"{Units.Bytes(pulled.BytesFetched)} fetched in {pulled.Elapsed.TotalSeconds:F2} s.");
            return 0;
        }));
        return command;
    }

    private static string Describe(ContainerdPulledLayer layer, string snapshotter) => $"layer {layer.Index + 1} {layer.Digest ?? layer.DiffId}: " + layer.Outcome switch
    {
        ContainerdLayerOutcome.Remote => $"remote (served by snapshotter {snapshotter}, nothing fetched)",
        ContainerdLayerOutcome.Present => "already present",
        _ => $"fetched ({Units.Bytes(layer.BytesFetched)}) and applied",
    };

    // Prints as each layer finishes, on the puller's thread (Progress<T> would post to the thread pool, out of order).
    private sealed class LayerPrinter(Action<ContainerdPulledLayer> print) : IProgress<ContainerdPulledLayer>
    {
        public void Report(ContainerdPulledLayer value) => print(value);
    }
}
