using System.CommandLine;
using System.Globalization;
using Accelerator.Cli.Console;
using Accelerator.Snapshotter.Remote;

namespace Accelerator.Cli.Commands;

/// <summary>
/// <c>accel snapshotter status [--address SOCK] [--json]</c>: which strategy serves each image the node daemon decided
/// about, or why containerd downloads it (read from the daemon's <c>GET /v1/images</c>).
/// </summary>
internal static class SnapshotterStatusCommand
{
    /// <summary>The socket the daemon listens on unless told otherwise.</summary>
    public const string DefaultAddress = "/run/accel/snapshotter.sock";

    public static Command Create(CliConsole console)
    {
        var address = new Option<string?>("--address") { Description = $"The node daemon's unix socket. Default: {DefaultAddress}.", HelpName = "SOCK" };
        var json = new Option<bool>("--json") { Description = "Print the daemon's JSON (one object per image) instead of a table." };
        var command = new Command("status", "Show each image's strategy (cache, lazy from a converted variant or seekable layers, block, or ordinary: containerd downloads it) and why.")
        {
            address, json,
        };
        command.SetAction(CommonOptions.Guard(console, async (result, cancellationToken) =>
        {
            string socket = result.GetValue(address) ?? DefaultAddress;
            if (result.GetValue(json))
            {
                console.WriteLine(await RemoteImagesClient.GetJsonAsync(socket, cancellationToken).ConfigureAwait(false));
                return 0;
            }

            var images = await RemoteImagesClient.GetAsync(socket, cancellationToken).ConfigureAwait(false);
            console.WriteLine($"{"IMAGE",-40}  {"STRATEGY",-16}  {"READY",8}  {"FETCHED",10}  {"SNAPSHOTS",9}  REASON");
            foreach (var image in images)
            {
                string ready = image.Strategy == RemoteLayerProvider.Ordinary ? "-" : string.Create(CultureInfo.InvariantCulture, $"{image.TimeToReadyMilliseconds / 1000:F2} s");
                string reason = image.Skipped.Count == 0 ? image.Reason : $"{image.Reason} (skipped {string.Join("; ", image.Skipped.Select(s => $"{s.Strategy}: {s.Reason}"))})";
                string strategy = RemoteLayerProvider.DescribeStrategy(image.Strategy, image.Source);
                console.WriteLine($"{image.Image,-40}  {strategy,-16}  {ready,8}  {Units.Bytes(image.BytesFetched),10}  {image.Snapshots,9}  {reason}");
            }

            console.WriteLine($"{Units.Count(images.Count, "image")}.");
            return 0;
        }));
        return command;
    }
}
