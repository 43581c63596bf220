using System.Text;
using Accelerator.Chunks.Caching;
using Accelerator.Chunks.Statistics;
using Accelerator.Lazy.Conversion;
using Accelerator.Lazy.Format;
using Accelerator.Lazy.Reading;
using Accelerator.Lazy.Statistics;
using Accelerator.Oci.Layout;
using Accelerator.Testing.Tar;

namespace Accelerator.Lazy.Tests.Support;

/// <summary>
/// A generated tree converted into a lazy image in an OCI layout (64 KiB chunks), with the original bytes of every
/// file to compare reads against: multi-chunk random and text files, files with holes in the middle and at the end, an
/// all-zero file (no chunks), an empty file, 200 small text files packed next to each other, and two identical files
/// (one set of chunks).
/// </summary>
internal sealed class FetchTestImage : IDisposable
{
    public const int ChunkSize = 64 << 10;

    private FetchTestImage(string directory, LazyImage image, Dictionary<string, byte[]> files)
    {
        Directory = directory;
        Image = image;
        Files = files;
    }

    public string Directory { get; }

    public LazyImage Image { get; }

    public LazyBootstrap Bootstrap => Image.Bootstrap;

    /// <summary>Path (absolute, in the image) to content.</summary>
    public Dictionary<string, byte[]> Files { get; }

    public string LayoutPath => Path.Combine(Directory, "lazy");

    public static async Task<FetchTestImage> CreateAsync(string directory, IReadOnlyList<string>? prefetch = null, Action<TarBuilder, Dictionary<string, byte[]>>? extra = null)
    {
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        var tar = new TarBuilder();
        void Add(string path, byte[] content)
        {
            files["/" + path] = content;
            tar.AddFile(path, content);
        }

        tar.AddDirectory("big").AddDirectory("holes").AddDirectory("small").AddDirectory("dup");
        Add("big/random.bin", TestImages.RandomBytes(1, (17 * ChunkSize) + 12_345));
        Add("big/text.txt", Text(2, 700_000));
        Add("holes/middle.bin", [.. TestImages.RandomBytes(3, ChunkSize), .. new byte[3 * ChunkSize], .. TestImages.RandomBytes(4, ChunkSize + 100)]);
        Add("holes/trailing.bin", [.. TestImages.RandomBytes(5, 100_000), .. new byte[300_000]]);
        Add("holes/zeros.bin", new byte[4 * ChunkSize]);
        Add("empty", []);
        for (int i = 0; i < 200; i++)
        {
            Add($"small/f{i:D3}.txt", Text(100 + i, 500 + (i * 13 % 2500)));
        }

        byte[] same = TestImages.RandomBytes(6, 200_000);
        Add("dup/a.bin", same);
        Add("dup/b.bin", same);
        tar.AddSymlink("link", "big/text.txt");
        extra?.Invoke(tar, files);

        var source = await TestImages.WriteAsync(Path.Combine(directory, "source"), "v1", tar.ToArray());
        var (_, image) = await Conversions.ToLayoutAsync(source, Path.Combine(directory, "lazy"), options: new LazyConvertOptions { ChunkSize = ChunkSize, PrefetchPaths = prefetch });
        return new FetchTestImage(directory, image, files);
    }

    public static async Task<FetchTestImage> CreateInTempAsync(IReadOnlyList<string>? prefetch = null, Action<TarBuilder, Dictionary<string, byte[]>>? extra = null)
        => await CreateAsync(System.IO.Directory.CreateTempSubdirectory("accel-fetch-").FullName, prefetch, extra);

    public ulong Inode(string path) => Bootstrap.LookupPath(path)!.Inode;

    /// <summary>A new cache directory under the image's directory.</summary>
    public string NewCacheDirectory() => Path.Combine(Directory, "cache-" + Guid.NewGuid().ToString("N")[..8]);

    /// <summary>A reader over the layout's blobs through a recording source, with a new cache unless one is given.</summary>
    public (LazyFileReader Reader, RecordingBlobSource Source, ChunkCache Cache) NewReader(
        LazyReaderOptions? options = null, ChunkCache? cache = null, ILazyReadObserver? observer = null, LazyMountStatistics? statistics = null)
    {
        var source = new RecordingBlobSource(OciImageLayout.Open(LayoutPath).Blobs);
        cache ??= ChunkCache.Open(new ChunkCacheOptions { Directory = NewCacheDirectory() });
        statistics ??= new LazyMountStatistics();
        var counted = new CountingBlobSource(source, "origin", statistics.Mount);
        return (new LazyFileReader(Bootstrap, counted, Image.Reference.Repository, cache, options, statistics, observer), source, cache);
    }

    /// <summary>Reads a whole file through the reader in pieces of <paramref name="bufferSize"/>.</summary>
    public static async Task<byte[]> ReadAllAsync(LazyFileReader reader, ulong inode, int bufferSize = 128 << 10)
    {
        using var output = new MemoryStream();
        byte[] buffer = new byte[bufferSize];
        long offset = 0;
        while (true)
        {
            int n = await reader.ReadAsync(inode, offset, buffer);
            if (n == 0)
            {
                return output.ToArray();
            }

            output.Write(buffer, 0, n);
            offset += n;
        }
    }

    /// <summary>The path of the data blob file in the layout.</summary>
    public string BlobPath(Digest blob) => OciImageLayout.Open(LayoutPath).GetBlobPath(blob);

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);

    private static byte[] Text(int seed, int length)
    {
        var random = new Random(seed);
        var text = new StringBuilder(length + 16);
        string[] words = ["lazy", "chunk", "cache", "fetch", "merge", "verify", "digest", "reader", "blob", "range"];
        while (text.Length < length)
        {
            text.Append(words[random.Next(words.Length)]).Append(random.Next(3) == 0 ? '\n' : ' ');
        }

        return Encoding.ASCII.GetBytes(text.ToString(0, length));
    }
}
