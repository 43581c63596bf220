using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using Accelerator.Oci.Model;

namespace Accelerator.Oci.Tests.Layout;

/// <summary>Builds small real images (gzip tar layer, config, manifest) and copies images between stores.</summary>
internal static class TestImages
{
    public sealed record Built(ManifestDocument Manifest, IReadOnlyDictionary<Digest, byte[]> Blobs, ImageConfig Config);

    /// <summary>An image with one gzip layer holding <paramref name="files"/> (path → text).</summary>
    public static Built Build(Platform platform, IReadOnlyDictionary<string, string> files)
    {
        byte[] uncompressed;
        using (var tar = new MemoryStream())
        {
            using (var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
            {
                foreach (var (path, text) in files.OrderBy(f => f.Key, StringComparer.Ordinal))
                {
                    var entry = new PaxTarEntry(TarEntryType.RegularFile, path)
                    {
                        DataStream = new MemoryStream(Encoding.UTF8.GetBytes(text)),
                        Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
                        ModificationTime = new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero),
                    };
                    writer.WriteEntry(entry);
                }
            }

            uncompressed = tar.ToArray();
        }

        byte[] layer;
        using (var gz = new MemoryStream())
        {
            using (var gzip = new GZipStream(gz, CompressionLevel.Fastest, leaveOpen: true))
            {
                gzip.Write(uncompressed);
            }

            layer = gz.ToArray();
        }

        var config = new ImageConfig
        {
            Architecture = platform.Architecture,
            Os = platform.OS,
            Variant = platform.Variant,
            Created = "2024-01-01T00:00:00Z",
            Config = new RuntimeConfig { Cmd = ["/bin/sh"], Env = ["PATH=/usr/bin:/bin"] },
            Rootfs = new RootFs { DiffIds = [Digest.Compute(uncompressed)] },
        };
        byte[] configBytes = OciJson.Serialize(config);
        var manifest = ManifestDocument.From(new ImageManifest
        {
            Config = Descriptor.FromContent(MediaTypes.OciConfig, configBytes),
            Layers = [Descriptor.FromContent(MediaTypes.OciLayerGzip, layer)],
        });
        var blobs = new Dictionary<Digest, byte[]>
        {
            [Digest.Compute(configBytes)] = configBytes,
            [Digest.Compute(layer)] = layer,
        };
        return new Built(manifest, blobs, config);
    }

    /// <summary>Writes a built image's blobs and manifest to a store, tagging it when <paramref name="tag"/> is given.</summary>
    public static async Task PushAsync(IImageStore store, ImageReference image, Built built, string? tag)
    {
        foreach (var descriptor in built.Manifest.Manifest!.Layers.Append(built.Manifest.Manifest.Config))
        {
            await store.PushBlobAsync(image, descriptor, new MemoryStream(built.Blobs[descriptor.Digest]));
        }

        await store.PushManifestAsync(image, built.Manifest, tag);
    }

    /// <summary>Copies an image (manifest or index with its manifests) between two stores through <see cref="IImageStore"/> only.</summary>
    public static async Task<ManifestDocument> CopyAsync(IImageStore source, ImageReference from, IImageStore destination, ImageReference to, string tag)
    {
        var document = await source.GetManifestAsync(from);
        await CopyDocumentAsync(source, from, destination, to, document, tag);
        return document;
    }

    private static async Task CopyDocumentAsync(IImageStore source, ImageReference from, IImageStore destination, ImageReference to, ManifestDocument document, string? tag)
    {
        if (document.Index is { } index)
        {
            foreach (var child in index.Manifests)
            {
                var childDocument = await source.GetManifestAsync(from, child.Digest);
                await CopyDocumentAsync(source, from, destination, to, childDocument, null);
            }
        }
        else
        {
            var manifest = document.Manifest!;
            foreach (var blob in manifest.Layers.Prepend(manifest.Config))
            {
                if (await destination.BlobExistsAsync(to, blob))
                {
                    continue;
                }

                await using var stream = await source.Blobs.OpenReadAsync(new BlobAddress(from.Repository, blob.Digest, blob.Size));
                await destination.PushBlobAsync(to, blob, stream);
            }
        }

        await destination.PushManifestAsync(to, document, tag);
    }

    /// <summary>The files of a gzip tar layer: path → content (regular files only).</summary>
    public static async Task<Dictionary<string, byte[]>> ReadLayerFilesAsync(Stream layer)
    {
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        await using var gzip = new GZipStream(layer, CompressionMode.Decompress);
        await using var reader = new TarReader(gzip);
        while (await reader.GetNextEntryAsync() is { } entry)
        {
            if (entry.EntryType is TarEntryType.RegularFile or TarEntryType.V7RegularFile && entry.DataStream is not null)
            {
                using var content = new MemoryStream();
                await entry.DataStream.CopyToAsync(content);
                files[(entry.Name.StartsWith("./", StringComparison.Ordinal) ? entry.Name[2..] : entry.Name).TrimStart('/')] = content.ToArray();
            }
        }

        return files;
    }
}
