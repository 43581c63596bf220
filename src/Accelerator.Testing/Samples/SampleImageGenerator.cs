using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using Accelerator.Oci.Model;
using Accelerator.Oci.Validation;

// One source, two assemblies: Accelerator.Testing (for tests) and accel (for `accel demo`), which compiles this file
// as a link under its own namespace so a test project referencing both sees no duplicate type.
#if ACCEL_CLI
namespace Accelerator.Cli.Commands.Demo.Samples;
#else
namespace Accelerator.Testing.Samples;
#endif

/// <summary>
/// Writes a synthetic image of N layers and a given total size into an OCI image layout, in C# only (no external tools,
/// so <c>accel demo</c> can use it): PAX tars written with <see cref="TarWriter"/>, gzip, config and manifest from the
/// OCI model, and the layout files the image-layout spec names (<c>oci-layout</c>, <c>index.json</c>,
/// <c>blobs/sha256/…</c>). Output is a pure function of the options: fixed mtimes and owners, entries in ordinal order,
/// content from a seeded generator.
/// </summary>
public static class SampleImageGenerator
{
    // 2024-01-01T00:00:00Z: every entry's mtime and the config's creation time.
    private static readonly DateTimeOffset FixedTime = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static readonly string[] Words =
    [
        "container", "image", "layer", "registry", "mount", "chunk", "digest", "manifest", "blob", "peer",
        "lazy", "block", "snapshot", "cache", "mirror", "index", "tar", "gzip", "fuse", "kernel",
    ];

    /// <summary>Generates the image into <paramref name="layoutPath"/> (created if missing; existing blobs are kept).</summary>
    public static async Task<SampleImage> WriteLayoutAsync(string layoutPath, SampleImageOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new SampleImageOptions();
        new SampleImageOptionsValidator().ThrowIfOutOfRange(options, "sample image");
        string blobs = Path.Combine(layoutPath, "blobs", "sha256");
        Directory.CreateDirectory(blobs);

        var random = new Random(options.Seed);
        var plan = PlanFiles(random, options);
        var layers = new List<Descriptor>();
        var diffIds = new List<Digest>();
        var files = new List<KeyValuePair<string, long>>();
        for (int layer = 0; layer < options.LayerCount; layer++)
        {
            var (descriptor, diffId) = await WriteLayerAsync(blobs, layer, plan[layer], options, cancellationToken).ConfigureAwait(false);
            layers.Add(descriptor);
            diffIds.Add(diffId);
            files.AddRange(plan[layer].Select(f => new KeyValuePair<string, long>(f.Path, f.Size)));
        }

        var config = new ImageConfig
        {
            Created = FixedTime.ToString("yyyy-MM-ddTHH:mm:ssZ"),
            Architecture = options.Architecture,
            Os = "linux",
            Config = new RuntimeConfig { Cmd = ["/bin/sh"], Env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"] },
            Rootfs = new RootFs { DiffIds = diffIds },
            History = [.. Enumerable.Range(0, options.LayerCount).Select(i => new HistoryEntry { Created = FixedTime.ToString("yyyy-MM-ddTHH:mm:ssZ"), CreatedBy = $"sample layer {i}" })],
        };
        var configDescriptor = await WriteBlobAsync(blobs, MediaTypes.OciConfig, OciJson.Serialize(config), cancellationToken).ConfigureAwait(false);
        var manifest = ManifestDocument.From(new ImageManifest { Config = configDescriptor, Layers = layers });
        var manifestDescriptor = await WriteBlobAsync(blobs, MediaTypes.OciManifest, manifest.Bytes.ToArray(), cancellationToken).ConfigureAwait(false);

        // image-layout.md: "oci-layout" holds the layout version; index.json lists the manifests, the tag in the
        // org.opencontainers.image.ref.name annotation.
        await File.WriteAllTextAsync(Path.Combine(layoutPath, "oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}", cancellationToken).ConfigureAwait(false);
        var index = new ImageIndex
        {
            Manifests = [manifestDescriptor with { Annotations = new Dictionary<string, string> { ["org.opencontainers.image.ref.name"] = options.Tag } }],
        };
        await File.WriteAllBytesAsync(Path.Combine(layoutPath, "index.json"), OciJson.Serialize(index), cancellationToken).ConfigureAwait(false);
        return new SampleImage(layoutPath, options.Tag, manifestDescriptor, configDescriptor, layers, files);
    }

    private sealed record PlannedFile(string Path, long Size, bool Compressible, int Seed);

    // Splits the total size over the layers, each into files of mixed sizes: many small (1–64 KiB), some medium
    // (64 KiB–1 MiB) and, when the layer is big enough, a few large ones (1–16 MiB).
    private static List<PlannedFile>[] PlanFiles(Random random, SampleImageOptions options)
    {
        var plan = new List<PlannedFile>[options.LayerCount];
        long perLayer = options.TotalSize / options.LayerCount;
        for (int layer = 0; layer < options.LayerCount; layer++)
        {
            long remaining = layer == options.LayerCount - 1 ? options.TotalSize - (perLayer * (options.LayerCount - 1)) : perLayer;
            var files = new List<PlannedFile>();
            int n = 0;
            while (remaining > 0)
            {
                int kind = random.Next(10);
                long size = kind switch
                {
                    < 6 => random.Next(1024, 64 * 1024),
                    < 9 => random.Next(64 * 1024, 1024 * 1024),
                    _ => random.Next(1024 * 1024, 16 * 1024 * 1024),
                };
                size = Math.Min(size, remaining);
                remaining -= size;
                bool compressible = random.NextDouble() < options.CompressibleFraction;
                files.Add(new PlannedFile($"layer{layer}/dir{n % 8}/file{n:D5}.{(compressible ? "txt" : "bin")}", size, compressible, random.Next()));
                n++;
            }

            files.Sort((a, b) => string.CompareOrdinal(a.Path, b.Path));
            plan[layer] = files;
        }

        return plan;
    }

    private static async Task<(Descriptor Layer, Digest DiffId)> WriteLayerAsync(string blobs, int layer, List<PlannedFile> files, SampleImageOptions options, CancellationToken cancellationToken)
    {
        string temp = Path.Combine(blobs, $".tmp-layer-{Guid.NewGuid():N}");
        try
        {
            using var compressedHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            using var uncompressedHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            long compressedSize;
            await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
            {
                var compressedTee = new HashingWriteStream(file, compressedHash);
                await using (var gzip = new GZipStream(compressedTee, options.CompressionLevel, leaveOpen: true))
                {
                    var tarTee = new HashingWriteStream(gzip, uncompressedHash);
                    await using (var tar = new TarWriter(tarTee, TarEntryFormat.Pax, leaveOpen: true))
                    {
                        var directories = files.Select(f => Path.GetDirectoryName(f.Path)!).Distinct().ToList();
                        directories.Add($"layer{layer}");
                        foreach (string dir in directories.Distinct().Order(StringComparer.Ordinal))
                        {
                            await tar.WriteEntryAsync(Entry(TarEntryType.Directory, dir + "/", "755"), cancellationToken).ConfigureAwait(false);
                        }

                        foreach (var planned in files)
                        {
                            var entry = Entry(TarEntryType.RegularFile, planned.Path, "644");
                            entry.DataStream = new MemoryStream(Content(planned), writable: false);
                            await tar.WriteEntryAsync(entry, cancellationToken).ConfigureAwait(false);
                        }
                    }
                }

                compressedSize = compressedTee.Length;
            }

            var digest = Digest.FromHash(Digest.Sha256, compressedHash.GetHashAndReset());
            var diffId = Digest.FromHash(Digest.Sha256, uncompressedHash.GetHashAndReset());
            File.Move(temp, Path.Combine(blobs, digest.Encoded), overwrite: true);
            return (new Descriptor(MediaTypes.OciLayerGzip, digest, compressedSize), diffId);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    private static PaxTarEntry Entry(TarEntryType type, string name, string mode)
    {
        // Only the mtime record: no atime/ctime, so the tar depends on the options alone.
        var entry = new PaxTarEntry(type, name, new Dictionary<string, string> { ["mtime"] = FixedTime.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture) })
        {
            Mode = (UnixFileMode)Convert.ToInt32(mode, 8),
            ModificationTime = FixedTime,
            Uid = 0,
            Gid = 0,
            UserName = "root",
            GroupName = "root",
        };
        return entry;
    }

    private static byte[] Content(PlannedFile file)
    {
        var data = new byte[file.Size];
        var random = new Random(file.Seed);
        if (!file.Compressible)
        {
            random.NextBytes(data);
            return data;
        }

        // Text of repeated words: compresses several times over, like source files and configs.
        var text = new StringBuilder();
        int written = 0;
        while (written < data.Length)
        {
            text.Clear();
            for (int i = 0; i < 12; i++)
            {
                text.Append(Words[random.Next(Words.Length)]).Append(i == 11 ? '\n' : ' ');
            }

            written += Encoding.ASCII.GetBytes(text.ToString().AsSpan(0, Math.Min(text.Length, data.Length - written)), data.AsSpan(written));
        }

        return data;
    }

    private static async Task<Descriptor> WriteBlobAsync(string blobs, string mediaType, byte[] content, CancellationToken cancellationToken)
    {
        var descriptor = Descriptor.FromContent(mediaType, content);
        await File.WriteAllBytesAsync(Path.Combine(blobs, descriptor.Digest.Encoded), content, cancellationToken).ConfigureAwait(false);
        return descriptor;
    }
}
