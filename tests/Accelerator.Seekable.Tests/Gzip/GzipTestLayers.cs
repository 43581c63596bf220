using System.Diagnostics;
using System.Security.Cryptography;
using Accelerator.Oci.Layout;
using Accelerator.Seekable.Gzip;
using Accelerator.Testing.Images;

namespace Accelerator.Seekable.Tests.Gzip;

/// <summary>A layer blob on disk and its descriptor.</summary>
internal sealed record LayerFile(string Path, Descriptor Descriptor)
{
    public override string ToString() => $"{Descriptor.Digest.Encoded[..12]} ({Descriptor.Size} bytes)";
}

/// <summary>Real layers (the Debian corpus) and layers compressed here by real tools (gzip, pigz), and reading through an index.</summary>
internal static class GzipTestLayers
{
    public const string GzipMediaType = "application/vnd.oci.image.layer.v1.tar+gzip";

    /// <summary>Every distinct layer of the corpus images named, biggest first.</summary>
    public static async Task<IReadOnlyList<LayerFile>> CorpusLayersAsync(params string[] images)
    {
        var layers = new Dictionary<Digest, LayerFile>();
        foreach (string name in images)
        {
            DebianImage image = await DebianImageCorpus.GetAsync(name);
            OciImageLayout layout = OciImageLayout.Open(image.LayoutPath);
            Descriptor manifest = await layout.ResolveTagAsync(image.Tag);
            var document = await layout.GetManifestAsync(manifest.Digest);
            foreach (Descriptor layer in document.Manifest!.Layers)
            {
                layers.TryAdd(layer.Digest, new LayerFile(layout.GetBlobPath(layer.Digest), layer));
            }
        }

        return [.. layers.Values.OrderByDescending(l => l.Descriptor.Size)];
    }

    /// <summary>The descriptor of a blob file (sha256 computed).</summary>
    public static LayerFile Describe(string path, string mediaType = GzipMediaType)
    {
        using FileStream stream = File.OpenRead(path);
        var digest = Digest.FromHash(Digest.Sha256, SHA256.HashData(stream));
        return new LayerFile(path, new Descriptor(mediaType, digest, new FileInfo(path).Length));
    }

    /// <summary>Runs a shell command line (tools and paths from the tests only).</summary>
    public static Task ShellAsync(string command) => ExternalTool.RunAsync("sh", ["-c", command]);

    /// <summary>Starts <c>gzip -dc</c> of <paramref name="path"/>: the reference decompression, read from its stdout.</summary>
    public static Process StartGunzip(string path)
    {
        var start = new ProcessStartInfo("gzip") { RedirectStandardOutput = true, UseShellExecute = false };
        start.ArgumentList.Add("-dc");
        start.ArgumentList.Add(path);
        return Process.Start(start)!;
    }

    /// <summary>Builds the index of a layer file.</summary>
    public static async Task<GzipLayerIndex> BuildAsync(LayerFile layer, int spanSize = 4 << 20)
    {
        await using FileStream stream = File.OpenRead(layer.Path);
        return await GzipIndexBuilder.BuildAsync(stream, layer.Descriptor, new GzipIndexOptions { SpanSize = spanSize });
    }

    /// <summary>Fetches unit <paramref name="unit"/>'s bytes from the blob, decodes them and checks the digest.</summary>
    public static byte[] DecodeVerified(GzipLayerIndex index, SafeFileHandleHolder blob, int unit)
    {
        SeekableUnit u = index.Units[unit];
        var encoded = new byte[u.CompressedLength];
        Assert.Equal(encoded.Length, RandomAccess.Read(blob.Handle, encoded, u.CompressedOffset));
        var decoded = new byte[u.DataLength];
        index.Decode(unit, encoded, decoded);
        Assert.Equal(u.Digest, Digest.FromHash(Digest.Sha256, SHA256.HashData(decoded)));
        return decoded;
    }

    /// <summary>Reads [<paramref name="offset"/>, +<paramref name="length"/>) of the data space through the index.</summary>
    public static byte[] ReadThroughIndex(GzipLayerIndex index, SafeFileHandleHolder blob, long offset, long length, Dictionary<int, byte[]> cache)
    {
        var result = new byte[length];
        long done = 0;
        while (done < length)
        {
            int unit = index.FindUnit(offset + done);
            Assert.True(unit >= 0, $"no unit holds data offset {offset + done}");
            if (!cache.TryGetValue(unit, out byte[]? bytes))
            {
                cache.Clear();
                bytes = cache[unit] = DecodeVerified(index, blob, unit);
            }

            SeekableUnit u = index.Units[unit];
            int start = (int)(offset + done - u.DataOffset);
            int count = (int)Math.Min(u.DataLength - start, length - done);
            bytes.AsSpan(start, count).CopyTo(result.AsSpan((int)done));
            done += count;
        }

        return result;
    }
}

/// <summary>A read-only file handle for <see cref="RandomAccess"/>.</summary>
internal sealed class SafeFileHandleHolder(string path) : IDisposable
{
    public Microsoft.Win32.SafeHandles.SafeFileHandle Handle { get; } = File.OpenHandle(path);

    public void Dispose() => Handle.Dispose();
}
