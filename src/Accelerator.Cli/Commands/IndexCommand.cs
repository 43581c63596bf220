using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Accelerator.Cli.Console;
using Accelerator.Seekable.Index;

namespace Accelerator.Cli.Commands;

/// <summary>
/// <c>accel index REF</c>: build the seekable index of an image's gzip and tar layers and push it beside the image as
/// an OCI artifact (found through the referrers API, or the referrers tag on registries without it), so the lazy
/// strategy mounts the image without conversion. <see cref="SeekableIndexer"/> does the work.
/// </summary>
internal static class IndexCommand
{
    public static Command Create(CommonOptions common, CliConsole console)
    {
        var image = new Argument<string>("REF") { Description = "The image: host[:port]/repo[:tag|@digest] or oci:DIR[:TAG]." };
        var minLayerSize = Flags.Size("--min-layer-size", "Index only layers at least this large (e.g. 512K); smaller ones are fetched whole at mount. Default: 1M.", allowZero: true);
        var spanSize = Flags.Size("--span-size", "Uncompressed bytes between checkpoints, 64K to 32M (smaller: finer reads, larger index). Default: 4M.");
        var prefetchList = new Option<string?>("--prefetch-list")
        {
            Description = "A file of paths, one per line ('#' comments), stored in the index for mounts to fetch first; its start-read amplification is reported.",
        };
        var json = new Option<bool>("--json") { Description = "Print the report as JSON." };
        var command = new Command("index", "Build the seekable index of an image's gzip/tar layers and push it beside the image (lazy mounts without conversion).")
        {
            image, minLayerSize, spanSize, prefetchList, json,
        };
        command.SetAction(CommonOptions.Guard(console, async (result, cancellationToken) =>
        {
            var reference = ImageReference.Parse(result.GetRequiredValue(image));
            long span = result.GetValue(spanSize) ?? 4 << 20;
            var options = new SeekableIndexerOptions
            {
                MinLayerSize = result.GetValue(minLayerSize) ?? 1 << 20,
                SpanSize = span is >= SeekableIndexArtifact.MinSpanSize and <= SeekableIndexArtifact.MaxSpanSize
                    ? (int)span
                    : throw new ArgumentException($"--span-size: {Units.Bytes(span)} is out of range: use 64K to 32M."),
                PrefetchList = result.GetValue(prefetchList) is { } list ? ConvertCommand.ReadPrefetchList(list) : null,
                Platform = common.GetPlatform(result),
            };
            await using var accelerator = common.CreateBuilder(result).Build();
            var store = CommonOptions.GetStores(accelerator).GetStoreForWrite(reference);
            var report = await SeekableIndexer.IndexAsync(store, reference, options, cancellationToken: cancellationToken).ConfigureAwait(false);
            console.WriteLine(result.GetValue(json) ? ToJson(report) : ToText(report));
            return 0;
        }));
        return command;
    }

    private static string ToText(SeekableIndexReport report)
    {
        var lines = new List<string>();
        for (int i = 0; i < report.Layers.Count; i++)
        {
            var layer = report.Layers[i];
            lines.Add(layer.Indexed
                ? string.Create(CultureInfo.InvariantCulture,
                    $"layer {i} {layer.Digest.Encoded[..12]} ({Units.Bytes(layer.CompressedBytes)}): {layer.Format}, {Units.Count(layer.Spans, "span")}, index {Units.Bytes(layer.IndexBytes)} ({layer.IndexPercent:0.00}% of the layer), built in {layer.BuildTime.TotalSeconds:0.00} s")
                : $"layer {i} {layer.Digest.Encoded[..12]} ({Units.Bytes(layer.CompressedBytes)}): not indexed: {layer.Reason}");
        }

        lines.Add(string.Create(CultureInfo.InvariantCulture,
            $"total: index {Units.Bytes(report.IndexBytes)} ({report.IndexPercent:0.00}% of the image's {Units.Bytes(report.ImageBytes)}), built in {report.BuildTime.TotalSeconds:0.00} s"));
        if (report.StartRead is { } start)
        {
            string notFound = start.NotFound > 0 ? $" ({start.NotFound} listed paths not in an indexed layer)" : "";
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"start read: {Units.Count(start.Files, "listed file")} ({Units.Bytes(start.FileBytes)}) in {Units.Bytes(start.FetchedBytes)} of spans: amplification {start.Ratio:0.00}x{notFound}"));
        }

        lines.Add(report.Artifact is { } artifact
            ? $"Indexed {report.Image} ({report.Manifest}): artifact {artifact} ({report.Listing})."
            : $"Nothing to index in {report.Image} ({report.Manifest}): no layer qualifies; nothing pushed.");
        return string.Join(Environment.NewLine, lines);
    }

    private static string ToJson(SeekableIndexReport report)
    {
        using var output = new MemoryStream();
        using (var json = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("image", report.Image);
            json.WriteString("manifest", report.Manifest.ToString());
            json.WriteString("artifact", report.Artifact?.ToString());
            json.WriteString("listing", report.Listing);
            json.WriteNumber("spanSize", report.SpanSize);
            json.WriteStartArray("layers");
            foreach (var layer in report.Layers)
            {
                json.WriteStartObject();
                json.WriteString("digest", layer.Digest.ToString());
                json.WriteString("mediaType", layer.MediaType);
                json.WriteNumber("compressedBytes", layer.CompressedBytes);
                json.WriteBoolean("indexed", layer.Indexed);
                if (layer.Indexed)
                {
                    json.WriteString("format", layer.Format);
                    json.WriteNumber("spans", layer.Spans);
                    json.WriteNumber("indexBytes", layer.IndexBytes);
                    json.WriteNumber("indexPercent", Math.Round(layer.IndexPercent, 3));
                    json.WriteNumber("buildSeconds", Math.Round(layer.BuildTime.TotalSeconds, 3));
                }
                else
                {
                    json.WriteString("reason", layer.Reason);
                }

                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteNumber("imageBytes", report.ImageBytes);
            json.WriteNumber("indexBytes", report.IndexBytes);
            json.WriteNumber("indexPercent", Math.Round(report.IndexPercent, 3));
            json.WriteNumber("buildSeconds", Math.Round(report.BuildTime.TotalSeconds, 3));
            if (report.StartRead is { } start)
            {
                json.WriteStartObject("startRead");
                json.WriteNumber("files", start.Files);
                json.WriteNumber("notFound", start.NotFound);
                json.WriteNumber("fileBytes", start.FileBytes);
                json.WriteNumber("fetchedBytes", start.FetchedBytes);
                json.WriteNumber("amplification", Math.Round(start.Ratio, 3));
                json.WriteEndObject();
            }

            json.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(output.ToArray());
    }
}
