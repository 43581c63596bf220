using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using Accelerator.Testing.Samples;

namespace Accelerator.Cli.Tests;

/// <summary>
/// A generated sample image in an OCI layout under a temporary directory, with the files its layers hold as read by
/// System.Formats.Tar (an independent reader), for checking what <c>accel pull</c> writes.
/// </summary>
public sealed class SampleLayout : IAsyncLifetime
{
    public const string Tag = "v1";

    public string WorkDirectory { get; } = Directory.CreateTempSubdirectory("accel-cli-tests-").FullName;

    public SampleImage Image { get; private set; } = null!;

    /// <summary>Relative path → (size, SHA-256 hex) of every regular file of the image, upper layers winning.</summary>
    public IReadOnlyDictionary<string, (long Size, string Sha256)> Files { get; private set; } = null!;

    public string Reference => Image.OciReference;

    public async Task InitializeAsync()
    {
        Image = await SampleImageGenerator.WriteLayoutAsync(
            Path.Combine(WorkDirectory, "layout"),
            new SampleImageOptions { LayerCount = 3, TotalSize = 3 * 1024 * 1024, Seed = 11, Tag = Tag, Architecture = "amd64" });
        Files = ReadLayerFiles(Image);
    }

    public Task DisposeAsync()
    {
        Directory.Delete(WorkDirectory, recursive: true);
        return Task.CompletedTask;
    }

    /// <summary>A new path under the work directory that does not exist yet.</summary>
    public string NewPath(string name) => Path.Combine(WorkDirectory, $"{name}-{Guid.NewGuid():N}");

    private static Dictionary<string, (long, string)> ReadLayerFiles(SampleImage image)
    {
        var files = new Dictionary<string, (long, string)>(StringComparer.Ordinal);
        foreach (var layer in image.Layers)
        {
            using var blob = File.OpenRead(Path.Combine(image.LayoutPath, "blobs", layer.Digest.Algorithm, layer.Digest.Encoded));
            using var gzip = new GZipStream(blob, CompressionMode.Decompress);
            using var reader = new TarReader(gzip);
            while (reader.GetNextEntry() is { } entry)
            {
                if (entry.EntryType is TarEntryType.RegularFile or TarEntryType.V7RegularFile)
                {
                    using var data = new MemoryStream();
                    entry.DataStream?.CopyTo(data);
                    string path = entry.Name.TrimStart('.', '/');
                    files[path] = (data.Length, Convert.ToHexStringLower(SHA256.HashData(data.ToArray())));
                }
            }
        }

        return files;
    }
}
