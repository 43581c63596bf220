using System.CommandLine;
using System.Text.Json;
using Accelerator.Cli.Console;
using Accelerator.Cli.Strategies;
using Accelerator.Oci.Model;
using Accelerator.Oci.Resolution;

namespace Accelerator.Cli.Commands;

/// <summary><c>accel inspect REF</c>: the image's manifest, platforms, config and layers as JSON.</summary>
internal static class InspectCommand
{
    public static Command Create(CommonOptions common, CliConsole console)
    {
        var image = new Argument<string>("REF") { Description = "The image: host[:port]/repo[:tag|@digest] or oci:DIR[:TAG]." };
        var strategies = CliStrategies.Create();
        var command = new Command("inspect", "Print an image's manifest, platforms, config and layers as JSON.") { image };
        command.SetAction(CommonOptions.Guard(console, async (result, cancellationToken) =>
        {
            var reference = ImageReference.Parse(result.GetRequiredValue(image));
            await using var accelerator = common.CreateBuilder(result).Build();
            var store = CommonOptions.GetStores(accelerator).GetStore(reference);
            var resolved = await ImageResolver.ResolveAsync(store, reference, common.GetPlatform(result), cancellationToken).ConfigureAwait(false);
            using var output = new MemoryStream();
            using (var json = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = true }))
            {
                Write(json, resolved, strategies);
            }

            console.WriteLine(System.Text.Encoding.UTF8.GetString(output.ToArray()));
            return 0;
        }));
        return command;
    }

    private static void Write(Utf8JsonWriter json, ResolvedImage image, IReadOnlyList<CliStrategy> strategies)
    {
        json.WriteStartObject();
        json.WriteString("reference", image.Image.ToString());
        json.WriteString("digest", image.Root.Digest.ToString());
        json.WriteString("mediaType", image.Root.MediaType);
        json.WriteString("format", Format(image, strategies));
        if (image.Root.Index is { } index)
        {
            json.WriteStartArray("platforms");
            foreach (var manifest in index.Manifests)
            {
                json.WriteStartObject();
                json.WriteString("platform", manifest.Platform?.ToString());
                json.WriteString("digest", manifest.Digest.ToString());
                json.WriteString("mediaType", manifest.MediaType);
                json.WriteNumber("size", manifest.Size);
                json.WriteEndObject();
            }

            json.WriteEndArray();
        }

        json.WriteStartObject("manifest");
        json.WriteString("digest", image.Manifest.Digest.ToString());
        json.WriteString("mediaType", image.Manifest.MediaType);
        json.WriteNumber("size", image.Manifest.Bytes.Length);
        if (image.ImageManifest.Annotations is { Count: > 0 } manifestAnnotations)
        {
            json.WriteStartObject("annotations");
            foreach (var (key, value) in manifestAnnotations.OrderBy(a => a.Key, StringComparer.Ordinal))
            {
                json.WriteString(key, value);
            }

            json.WriteEndObject();
        }

        json.WriteEndObject();
        json.WriteString("platform", $"{image.Config.Os}/{image.Config.Architecture}{(image.Config.Variant is null ? "" : "/" + image.Config.Variant)}");
        json.WriteStartObject("config");
        json.WriteString("digest", image.ImageManifest.Config.Digest.ToString());
        json.WriteString("mediaType", image.ImageManifest.Config.MediaType);
        json.WriteNumber("size", image.ImageManifest.Config.Size);
        json.WritePropertyName("content");
        using (var config = JsonDocument.Parse(image.ConfigBytes))
        {
            config.RootElement.WriteTo(json);
        }

        json.WriteEndObject();
        json.WriteStartArray("layers");
        var diffIds = image.Config.Rootfs?.DiffIds;
        for (int i = 0; i < image.Layers.Count; i++)
        {
            var layer = image.Layers[i];
            json.WriteStartObject();
            json.WriteString("digest", layer.Digest.ToString());
            json.WriteString("mediaType", layer.MediaType);
            json.WriteNumber("size", layer.Size);
            if (diffIds is not null && i < diffIds.Count)
            {
                json.WriteString("diffId", diffIds[i].ToString());
            }

            if (layer.Annotations is { Count: > 0 } annotations)
            {
                json.WriteStartObject("annotations");
                foreach (var (key, value) in annotations.OrderBy(a => a.Key, StringComparer.Ordinal))
                {
                    json.WriteString(key, value);
                }

                json.WriteEndObject();
            }

            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteNumber("totalLayerSize", image.Layers.Sum(l => l.Size));
        json.WriteEndObject();
    }

    // An accelerated format is named after the strategy that mounts it (lazy, block); else the manifest's kind.
    private static string Format(ResolvedImage image, IReadOnlyList<CliStrategy> strategies)
        => strategies.FirstOrDefault(s => s.IsInFormat(image))?.Name
            ?? (image.Manifest.MediaType == MediaTypes.DockerManifest ? "docker" : "oci");
}
