using System.Text;
using Accelerator.Lazy.Conversion;
using Accelerator.Lazy.Format;
using Accelerator.Lazy.Tests.Support;
using Accelerator.Oci.Layout;
using Accelerator.Testing.Tar;
using Accelerator.Testing.Trees;
using Xunit.Abstractions;

namespace Accelerator.Lazy.Tests.Conversion;

public sealed class LazyConverterTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("accel-lazy-convert-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    private string Dir(string name) => Path.Combine(_work, name);

    [Theory]
    [InlineData(32 * 1024)]
    [InlineData(32 * 1024 * 1024)]
    [InlineData(100_000)]
    [InlineData(0)]
    [InlineData(-1)]
    public async Task ConvertAsync_ChunkSizeOutOfBounds_ArgumentOutOfRange(int chunkSize)
    {
        var source = await TestImages.WriteAsync(Dir("src"), "v1", new TarBuilder().AddFile("a", "a").ToArray());

        var ex = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Conversions.ToLayoutAsync(source, Dir("dst"), options: new LazyConvertOptions { ChunkSize = chunkSize }));

        Assert.Equal("ChunkSize", ex.ParamName);
        Assert.False(Directory.Exists(Dir("dst")) && Directory.EnumerateFiles(Dir("dst"), "*", SearchOption.AllDirectories).Any(f => f.Contains("blobs")));
    }

    [Theory]
    [InlineData(64 * 1024)]
    [InlineData(16 * 1024 * 1024)]
    public async Task ConvertAsync_ChunkSizeAtBounds_CutsFilesAtThatSize(int chunkSize)
    {
        // Bytes with a 251-byte period: cheap to gzip, and no two chunks alike (the chunk size is no multiple of 251).
        byte[] data = new byte[(3 * chunkSize) + 17];
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = (byte)(i % 251);
        }

        var source = await TestImages.WriteAsync(Dir("src"), "v1", new TarBuilder().AddFile("big", data).ToArray());

        var (result, image) = await Conversions.ToLayoutAsync(source, Dir("dst"), options: new LazyConvertOptions { ChunkSize = chunkSize });

        var chunks = image.Bootstrap.GetChunks(image.Bootstrap.LookupPath("big")!.Inode);
        Assert.Equal(chunkSize, image.Bootstrap.ChunkSize);
        Assert.Equal([0L, chunkSize, 2L * chunkSize, 3L * chunkSize], chunks.Select(c => c.FileOffset));
        Assert.Equal([chunkSize, chunkSize, chunkSize, 17], chunks.Select(c => c.UncompressedSize));
        Assert.Equal(4, result.Chunks);
    }

    [Fact]
    public async Task ConvertAsync_TwoIdenticalFiles_ChunksStoredOnce()
    {
        byte[] data = TestImages.RandomBytes(11, 5 << 20);
        var source = await TestImages.WriteAsync(Dir("src"), "v1", new TarBuilder().AddFile("one", data).AddFile("two/copy", data).ToArray());

        var (result, image) = await Conversions.ToLayoutAsync(source, Dir("dst"));

        Assert.Equal(5, result.Chunks);
        Assert.Equal(5, result.DuplicateReferences);
        Assert.InRange(result.DataBytes, 5 << 20, (5 << 20) + 4096);
        var one = image.Bootstrap.GetChunks(image.Bootstrap.LookupPath("one")!.Inode);
        var two = image.Bootstrap.GetChunks(image.Bootstrap.LookupPath("two/copy")!.Inode);
        Assert.Equal(one, two);
    }

    [Fact]
    public async Task ConvertAsync_SecondVersionWithChunkDictionary_AddsOnlyNewChunkData()
    {
        // Version 1: 200 files of 100 KiB; version 2 keeps 180 of them and replaces 20 (90% of the content shared).
        var v1 = new TarBuilder();
        var v2 = new TarBuilder();
        for (int i = 0; i < 200; i++)
        {
            byte[] content = Content(i, 100 << 10);
            v1.AddFile($"app/lib/file{i:D3}.so", content);
            v2.AddFile($"app/lib/file{i:D3}.so", i < 180 ? content : Content(1000 + i, 100 << 10));
        }

        var first = await TestImages.WriteAsync(Dir("v1"), "v1", v1.ToArray());
        var second = await TestImages.WriteAsync(Dir("v2"), "v2", v2.ToArray());
        var (dictionaryResult, dictionary) = await Conversions.ToLayoutAsync(first, Dir("lazy1"), "v1-accel");

        var (result, image) = await Conversions.ToLayoutAsync(second, Dir("lazy2"), "v2-accel", new LazyConvertOptions { ChunkDictionary = dictionary });

        double newShare = (double)result.DataBytes / (result.DataBytes + result.ReusedBytes);
        output.WriteLine($"chunk dictionary: {result.DataBytes} new bytes, {result.ReusedBytes} reused, new share {newShare:P2} (v1 stored {dictionaryResult.DataBytes})");
        Assert.True(newShare <= 0.12, $"new chunk data is {newShare:P2} of the image");
        Assert.True(result.ReusedBlobs >= 1);

        // The new manifest lists the dictionary's blobs, and its own layout holds them: it is self-contained.
        Assert.Equal(image.Bootstrap.Blobs.Select(b => b.Digest), image.Image.ImageManifest.Layers.Skip(1).Select(l => l.Digest));
        Assert.Contains(dictionary.Bootstrap.Blobs[0].Digest, image.Bootstrap.Blobs.Select(b => b.Digest));
        string rootfs = Dir("v2-tree");
        await TreeMaterializer.MaterializeAsync(image, rootfs);
        Assert.Equal(Content(1000 + 190, 100 << 10), File.ReadAllBytes(Path.Combine(rootfs, "app/lib/file190.so")));
        Assert.Equal(Content(7, 100 << 10), File.ReadAllBytes(Path.Combine(rootfs, "app/lib/file007.so")));
    }

    [Fact]
    public async Task ConvertAsync_ThousandSmallFiles_PackedAdjacentInOneBlob()
    {
        var tar = new TarBuilder();
        for (int i = 0; i < 1000; i++)
        {
            tar.AddFile($"etc/conf.d/{i % 10}/file{i:D4}.conf", Content(i, 1024));
        }

        var source = await TestImages.WriteAsync(Dir("src"), "v1", tar.ToArray());

        var (result, image) = await Conversions.ToLayoutAsync(source, Dir("dst"));

        Assert.Equal(1, result.DataBlobs);
        var bootstrap = image.Bootstrap;
        var inOrder = Enumerable.Range(0, 1000)
            .Select(i => $"etc/conf.d/{i % 10}/file{i:D4}.conf")
            .Order(StringComparer.Ordinal)
            .Select(p => bootstrap.GetChunks(bootstrap.LookupPath(p)!.Inode).Single())
            .ToList();
        for (int i = 1; i < inOrder.Count; i++)
        {
            // Each file's chunk starts where the previous file's (in path order) ends: one ranged read covers a run.
            Assert.Equal(inOrder[i - 1].CompressedOffset + inOrder[i - 1].CompressedSize, inOrder[i].CompressedOffset);
        }
    }

    [Fact]
    public async Task ConvertAsync_MixedImage_BootstrapUnderTwoPercent()
    {
        // ~170 MB: 20,000 small text files (1-8 KiB), 600 medium (16-128 KiB), 10 large (1-6 MiB), in nested dirs.
        var random = new Random(99);
        string layerPath = Dir("layer.tar");
        long total = 0;
        await using (var file = File.Create(layerPath))
        await using (var tar = new System.Formats.Tar.TarWriter(file, System.Formats.Tar.TarEntryFormat.Pax))
        {
            void Add(string path, byte[] content)
            {
                var entry = new System.Formats.Tar.PaxTarEntry(System.Formats.Tar.TarEntryType.RegularFile, path) { DataStream = new MemoryStream(content), Mode = (UnixFileMode)0x1A4 };
                tar.WriteEntry(entry);
                total += content.Length;
            }

            for (int i = 0; i < 20_000; i++)
            {
                Add($"usr/share/pkg{i / 400:D2}/doc{i % 400 / 50}/file{i:D5}.txt", Text(random, random.Next(1024, 8192)));
            }

            for (int i = 0; i < 600; i++)
            {
                Add($"usr/lib/mod{i / 100:D2}/lib{i:D4}.so", TestImages.RandomBytes(i, random.Next(16 << 10, 128 << 10)));
            }

            for (int i = 0; i < 10; i++)
            {
                Add($"opt/data/blob{i:D2}.bin", TestImages.RandomBytes(10_000 + i, random.Next(1 << 20, 6 << 20)));
            }
        }

        var source = await TestImages.WriteAsync(Dir("src"), "v1", await File.ReadAllBytesAsync(layerPath));

        var (result, image) = await Conversions.ToLayoutAsync(source, Dir("dst"));

        long imageBytes = result.BootstrapSize + result.DataBytes;
        double ratio = (double)result.BootstrapSize / imageBytes;
        output.WriteLine($"mixed image: {image.Bootstrap.InodeCount} inodes, {total} file bytes, lazy image {imageBytes} bytes, bootstrap {result.BootstrapSize} bytes = {ratio:P3} of the image, {(double)result.BootstrapSize / total:P3} of the file data");
        Assert.True(ratio <= 0.02, $"bootstrap is {ratio:P3} of the image");
        Assert.Equal(total, result.FileBytes);
    }

    [Fact]
    public async Task ConvertAsync_FileDeletedByUpperLayer_NotInTreeNorData()
    {
        byte[] secret = TestImages.RandomBytes(77, 3 << 20);
        var source = await TestImages.WriteAsync(
            Dir("src"), "v1",
            new TarBuilder().AddFile("keep", "kept\n").AddFile("secret.bin", secret).ToArray(),
            new TarBuilder().AddWhiteout("secret.bin").ToArray());

        var (result, image) = await Conversions.ToLayoutAsync(source, Dir("dst"));

        Assert.Null(image.Bootstrap.LookupPath("secret.bin"));
        Assert.Equal(1, result.Chunks);
        Assert.True(result.DataBytes < 4096);
    }

    [Fact]
    public async Task ConvertAsync_PrefetchList_StoredAsInodesInOrder()
    {
        var source = await TestImages.WriteAsync(Dir("src"), "v1", new TarBuilder().AddFile("bin/sh", "sh").AddFile("etc/passwd", "root").ToArray());

        var (result, image) = await Conversions.ToLayoutAsync(source, Dir("dst"), options: new LazyConvertOptions { PrefetchPaths = ["/etc/passwd", "/missing", "bin/sh", "/etc/passwd"] });

        Assert.Equal(1, result.PrefetchMissing);
        Assert.Equal(["/etc/passwd", "/bin/sh"], image.Bootstrap.PrefetchInodes.Select(i => image.Bootstrap.GetEntry(i)!.Path));
    }

    [Fact]
    public async Task ConvertAsync_WrongDiffId_DigestMismatch()
    {
        var source = await TestImages.WriteAsync(Dir("src"), "v1", new TarBuilder().AddFile("a", "a").ToArray());
        var layout = OciImageLayout.Open(Dir("src"));
        var manifest = (await layout.GetManifestAsync(source)).Manifest!;
        var wrong = Accelerator.Oci.Model.OciJson.Serialize(new Accelerator.Oci.Model.ImageConfig
        {
            Os = "linux",
            Architecture = Platform.Current.Architecture,
            Rootfs = new Accelerator.Oci.Model.RootFs { DiffIds = [Digest.Compute("not the layer"u8)] },
        });
        var configDescriptor = Descriptor.FromContent(Accelerator.Oci.Model.MediaTypes.OciConfig, wrong);
        await layout.PushBlobAsync(configDescriptor, new MemoryStream(wrong));
        await layout.PushManifestAsync(Accelerator.Oci.Model.ManifestDocument.From(manifest with { Config = configDescriptor }), "wrong");

        await Assert.ThrowsAsync<DigestMismatchException>(() => Conversions.ToLayoutAsync(ImageReference.Parse($"oci:{Dir("src")}:wrong"), Dir("dst")));
    }

    [Fact]
    public async Task ConvertAsync_LazyImageAsSource_InvalidDataException()
    {
        var source = await TestImages.WriteAsync(Dir("src"), "v1", new TarBuilder().AddFile("a", "a").ToArray());
        await Conversions.ToLayoutAsync(source, Dir("dst"), "v1-accel");

        await Assert.ThrowsAsync<InvalidDataException>(() => Conversions.ToLayoutAsync(ImageReference.Parse($"oci:{Dir("dst")}:v1-accel"), Dir("again")));
    }

    [Fact]
    public void DefaultTarget_TaggedAndDigestOnly_AccelTagOrError()
    {
        Assert.Equal("localhost:5000/app:1.0-accel", LazyConverter.DefaultTarget(ImageReference.Parse("localhost:5000/app:1.0")).ToString());
        Assert.Equal("oci:/x/y:v1-accel", LazyConverter.DefaultTarget(ImageReference.Parse("oci:/x/y:v1")).ToString());
        Assert.Throws<ArgumentException>(() => LazyConverter.DefaultTarget(ImageReference.Parse("oci:/x/y")));
    }

    private static byte[] Content(int seed, int length) => TestImages.RandomBytes(seed, length);

    private static byte[] Text(Random random, int length)
    {
        string[] words = ["usage", "options", "config", "license", "version", "module", "return", "value", "error", "file"];
        var text = new StringBuilder(length + 16);
        while (text.Length < length)
        {
            text.Append(words[random.Next(words.Length)]).Append(random.Next(3) == 0 ? '\n' : ' ');
        }

        return Encoding.ASCII.GetBytes(text.ToString(0, length));
    }
}
