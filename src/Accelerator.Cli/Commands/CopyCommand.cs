using System.CommandLine;
using Accelerator.Cli.Console;
using Accelerator.Oci.Copying;

namespace Accelerator.Cli.Commands;

/// <summary><c>accel copy SRC DST</c>: copy an image with all its platforms between registries and OCI layouts.</summary>
internal static class CopyCommand
{
    public static Command Create(CommonOptions common, CliConsole console)
    {
        var source = new Argument<string>("SRC") { Description = "The source image: host[:port]/repo[:tag|@digest] or oci:DIR[:TAG]." };
        var target = new Argument<string>("DST") { Description = "The target image: host[:port]/repo[:tag] or oci:DIR[:TAG]." };
        var onlyPlatform = new Option<bool>("--single-platform") { Description = "Copy only the selected platform's manifest (see --platform), not the whole index." };
        var command = new Command("copy", "Copy an image, with every platform of an index, between registries and OCI layouts.") { source, target, onlyPlatform };
        command.SetAction(CommonOptions.Guard(console, async (result, cancellationToken) =>
        {
            var from = ImageReference.Parse(result.GetRequiredValue(source));
            var to = ImageReference.Parse(result.GetRequiredValue(target));
            await using var accelerator = common.CreateBuilder(result).Build();
            var stores = CommonOptions.GetStores(accelerator);
            var copied = await console.WithProgressAsync(sink => ImageCopier.CopyAsync(
                stores.GetStore(from),
                from,
                stores.GetStoreForWrite(to),
                to,
                new CopyOptions
                {
                    AllPlatforms = !result.GetValue(onlyPlatform),
                    Platform = common.GetPlatform(result),
                    Progress = sink.IsActive
                        ? new Progress<CopyProgress>(p => sink.Report(p.Blob.Digest.ToString(), (p.Skipped ? "exists " : "copy ") + p.Blob.Digest.Encoded[..12], p.BytesDone, p.Blob.Size))
                        : null,
                },
                cancellationToken)).ConfigureAwait(false);
            console.WriteLine(
                $"Copied {from} to {to} ({copied.ManifestDigest}): {Units.Count(copied.Manifests, "manifest")}, {Units.Count(copied.BlobsCopied, "blob")} copied " +
                $"({Units.Bytes(copied.BytesCopied)}), {copied.BlobsSkipped} already there" +
                (copied.Referrers > 0 ? $", {Units.Count(copied.Referrers, "referrer")} carried." : "."));
            foreach (string skipped in copied.ReferrersSkipped)
            {
                console.Warn($"not carried: {skipped}");
            }

            return 0;
        }));
        return command;
    }
}
