using System.Text;
using System.Text.Json;
using Accelerator.Oci.Layout;
using Accelerator.Oci.Model;
using Accelerator.Testing.Samples;
using Accelerator.Testing.Fuzzing;

namespace Accelerator.Oci.Tests.Layout;

public sealed class OciImageLayoutTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    private string LayoutPath => _directory.Combine("layout");

    private static TestImages.Built SampleImage(string text = "hello") => TestImages.Build(Platform.LinuxAmd64, new Dictionary<string, string> { ["etc/greeting"] = text });

    private ImageReference Ref(string? tag = null) => ImageReference.Parse("oci:" + LayoutPath + (tag is null ? "" : ":" + tag));

    private string[] TempFiles() => Directory.GetFiles(LayoutPath, ".accel-tmp-*");

    [Fact]
    public void Create_NewDirectory_WritesLayoutFileAndEmptyIndex()
    {
        var layout = OciImageLayout.Create(LayoutPath);

        Assert.Equal(Path.GetFullPath(LayoutPath), layout.Root);
        using var layoutFile = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(LayoutPath, "oci-layout")));
        Assert.Equal("1.0.0", layoutFile.RootElement.GetProperty("imageLayoutVersion").GetString());
        using var index = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(LayoutPath, "index.json")));
        Assert.Equal(2, index.RootElement.GetProperty("schemaVersion").GetInt32());
        Assert.Equal(0, index.RootElement.GetProperty("manifests").GetArrayLength());
        Assert.True(Directory.Exists(Path.Combine(LayoutPath, "blobs")));
    }

    [Fact]
    public void Create_ExistingLayout_ThrowsIOException()
    {
        OciImageLayout.Create(LayoutPath);
        Assert.Throws<IOException>(() => OciImageLayout.Create(LayoutPath));
    }

    [Fact]
    public void Open_MissingDirectory_ThrowsDirectoryNotFound()
        => Assert.Throws<DirectoryNotFoundException>(() => OciImageLayout.Open(_directory.Combine("nope")));

    [Fact]
    public void Open_DirectoryWithoutLayoutFile_ThrowsFileNotFound()
    {
        Directory.CreateDirectory(LayoutPath);
        var ex = Assert.Throws<FileNotFoundException>(() => OciImageLayout.Open(LayoutPath));
        Assert.Contains("oci-layout", ex.Message);
    }

    [Fact]
    public void Open_MissingIndex_ThrowsFileNotFound()
    {
        OciImageLayout.Create(LayoutPath);
        File.Delete(Path.Combine(LayoutPath, "index.json"));
        Assert.Throws<FileNotFoundException>(() => OciImageLayout.Open(LayoutPath));
    }

    [Fact]
    public void Open_OtherLayoutVersion_ThrowsNotSupported()
    {
        OciImageLayout.Create(LayoutPath);
        File.WriteAllText(Path.Combine(LayoutPath, "oci-layout"), """{"imageLayoutVersion":"2.0.0"}""");
        Assert.Throws<NotSupportedException>(() => OciImageLayout.Open(LayoutPath));
    }

    [Theory]
    [InlineData("")]
    [InlineData("{")]
    [InlineData("[]")]
    [InlineData("{}")]
    [InlineData("""{"imageLayoutVersion":1}""")]
    [InlineData("null")]
    public void Open_MalformedLayoutFile_ThrowsFormatException(string content)
    {
        OciImageLayout.Create(LayoutPath);
        File.WriteAllText(Path.Combine(LayoutPath, "oci-layout"), content);
        Assert.Throws<FormatException>(() => OciImageLayout.Open(LayoutPath));
    }

    [Fact]
    public void Open_HugeLayoutFile_ThrowsContentTooLarge()
    {
        OciImageLayout.Create(LayoutPath);
        File.WriteAllText(Path.Combine(LayoutPath, "oci-layout"), """{"imageLayoutVersion":"1.0.0","x":" """ + new string('a', 100_000) + "\"}");
        Assert.Throws<ContentTooLargeException>(() => OciImageLayout.Open(LayoutPath));
    }

    [Fact]
    public async Task OpenOrCreate_Twice_SecondOpensWhatFirstCreated()
    {
        var first = OciImageLayout.OpenOrCreate(LayoutPath);
        var built = SampleImage();
        await TestImages.PushAsync(first, Ref(), built, "v1");

        var second = OciImageLayout.OpenOrCreate(LayoutPath + "/");
        Assert.Equal(first.Root, second.Root);
        Assert.Equal(["v1"], await second.ListTagsAsync());
    }

    [Fact]
    public async Task PushBlobAsync_GoodContent_StoredAtDigestPath()
    {
        var layout = OciImageLayout.Create(LayoutPath);
        byte[] content = Encoding.UTF8.GetBytes("some blob");
        var descriptor = Descriptor.FromContent("application/octet-stream", content);

        await layout.PushBlobAsync(descriptor, new MemoryStream(content));

        string path = Path.Combine(LayoutPath, "blobs", "sha256", descriptor.Digest.Encoded);
        Assert.Equal(path, layout.GetBlobPath(descriptor.Digest));
        Assert.Equal(content, File.ReadAllBytes(path));
        Assert.Empty(TempFiles());
    }

    [Fact]
    public async Task PushBlobAsync_Sha512Digest_StoredUnderSha512()
    {
        var layout = OciImageLayout.Create(LayoutPath);
        byte[] content = Encoding.UTF8.GetBytes("sha512 blob");
        var descriptor = new Descriptor("application/octet-stream", Digest.Compute(Digest.Sha512, content), content.Length);

        await layout.PushBlobAsync(descriptor, new MemoryStream(content));

        Assert.True(File.Exists(Path.Combine(LayoutPath, "blobs", "sha512", descriptor.Digest.Encoded)));
        Assert.Equal(content, await layout.Blobs.ReadAllBytesAsync(new BlobAddress("", descriptor.Digest, content.Length), 1000));
    }

    [Theory]
    [InlineData("some blob!")] // same length, other bytes
    [InlineData("some blo")] // shorter
    [InlineData("some blob and more")] // longer
    public async Task PushBlobAsync_ContentNotMatchingDescriptor_ThrowsAndLeavesNothing(string actual)
    {
        var layout = OciImageLayout.Create(LayoutPath);
        var descriptor = Descriptor.FromContent("application/octet-stream", "some blob"u8);

        await Assert.ThrowsAsync<DigestMismatchException>(() => layout.PushBlobAsync(descriptor, new MemoryStream(Encoding.UTF8.GetBytes(actual))));

        Assert.False(File.Exists(layout.GetBlobPath(descriptor.Digest)));
        Assert.Empty(TempFiles());
    }

    [Fact]
    public async Task PushBlobAsync_BlobAlreadyPresent_DoesNotReadContent()
    {
        var layout = OciImageLayout.Create(LayoutPath);
        byte[] content = Encoding.UTF8.GetBytes("present");
        var descriptor = Descriptor.FromContent("application/octet-stream", content);
        await layout.PushBlobAsync(descriptor, new MemoryStream(content));

        await layout.PushBlobAsync(descriptor, new UnreadableStream());

        Assert.Equal(content, File.ReadAllBytes(layout.GetBlobPath(descriptor.Digest)));
    }

    [Fact]
    public async Task PushBlobAsync_PresentButTruncated_IsRewritten()
    {
        var layout = OciImageLayout.Create(LayoutPath);
        byte[] content = Encoding.UTF8.GetBytes("present and whole");
        var descriptor = Descriptor.FromContent("application/octet-stream", content);
        Directory.CreateDirectory(Path.GetDirectoryName(layout.GetBlobPath(descriptor.Digest))!);
        File.WriteAllBytes(layout.GetBlobPath(descriptor.Digest), content[..5]);

        await layout.PushBlobAsync(descriptor, new MemoryStream(content));

        Assert.Equal(content, File.ReadAllBytes(layout.GetBlobPath(descriptor.Digest)));
    }

    [Fact]
    public async Task PushBlobAsync_Cancelled_LeavesNoTemporaryFile()
    {
        var layout = OciImageLayout.Create(LayoutPath);
        byte[] content = new byte[1024 * 1024];
        var descriptor = Descriptor.FromContent("application/octet-stream", content);
        using var cts = new CancellationTokenSource();
        cts.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => layout.PushBlobAsync(descriptor, new MemoryStream(content), cts.Token));

        Assert.False(File.Exists(layout.GetBlobPath(descriptor.Digest)));
        Assert.Empty(TempFiles());
    }

    [Fact]
    public async Task GetManifestAsync_TaggedImage_ReturnsVerifiedManifestAndBlobs()
    {
        var layout = OciImageLayout.Create(LayoutPath);
        var built = SampleImage("tagged content");
        await TestImages.PushAsync(layout, Ref("v1"), built, "v1");

        var document = await layout.GetManifestAsync(Ref("v1"));

        Assert.Equal(built.Manifest.Digest, document.Digest);
        Assert.Equal(MediaTypes.OciManifest, document.MediaType);
        var layer = document.Manifest!.Layers.Single();
        byte[] layerBytes = await layout.Blobs.ReadAllBytesAsync(new BlobAddress("", layer.Digest, layer.Size), 1 << 20);
        var files = await TestImages.ReadLayerFilesAsync(new MemoryStream(layerBytes));
        Assert.Equal("tagged content", Encoding.UTF8.GetString(files["etc/greeting"]));
    }

    [Fact]
    public async Task PushManifestAsync_SameTagTwice_ReplacesTheEntry()
    {
        var layout = OciImageLayout.Create(LayoutPath);
        var first = SampleImage("one");
        var second = SampleImage("two");
        await TestImages.PushAsync(layout, Ref(), first, "v1");
        await TestImages.PushAsync(layout, Ref(), second, "keep");
        await TestImages.PushAsync(layout, Ref(), second, "v1");

        var index = await layout.GetIndexAsync();
        Assert.Equal(2, index.Manifests.Count);
        Assert.Equal("v1", index.Manifests[0].Annotations![OciImageLayout.RefNameAnnotation]);
        Assert.Equal(second.Manifest.Digest, index.Manifests[0].Digest);
        Assert.Equal(second.Manifest.Digest, (await layout.ResolveTagAsync("v1")).Digest);
        Assert.Equal(["v1", "keep"], await layout.ListTagsAsync(Ref()));
    }

    [Fact]
    public async Task PushManifestAsync_WithoutTag_StoredByDigestOnly()
    {
        var layout = OciImageLayout.Create(LayoutPath);
        var built = SampleImage();
        await TestImages.PushAsync(layout, Ref(), built, null);

        Assert.Empty((await layout.GetIndexAsync()).Manifests);
        var document = await layout.GetManifestAsync(ImageReference.Parse($"oci:{LayoutPath}@{built.Manifest.Digest}"));
        Assert.Equal(built.Manifest.Digest, document.Digest);
    }

    [Theory]
    [InlineData("")]
    [InlineData("bad tag")]
    [InlineData("-leading")]
    [InlineData("new\nline")]
    [InlineData("a/b")]
    public async Task PushManifestAsync_InvalidTag_ThrowsFormatException(string tag)
    {
        var layout = OciImageLayout.Create(LayoutPath);
        await Assert.ThrowsAsync<FormatException>(() => layout.PushManifestAsync(SampleImage().Manifest, tag));
    }

    [Fact]
    public async Task TagAsync_ManifestNotStored_ThrowsBlobNotFound()
    {
        var layout = OciImageLayout.Create(LayoutPath);
        await Assert.ThrowsAsync<BlobNotFoundException>(() => layout.TagAsync(SampleImage().Manifest.Descriptor, "v1"));
        Assert.Empty((await layout.GetIndexAsync()).Manifests);
    }

    [Fact]
    public async Task UntagAsync_TaggedThenUntagged_TagGoneBlobsStay()
    {
        var layout = OciImageLayout.Create(LayoutPath);
        var built = SampleImage();
        await TestImages.PushAsync(layout, Ref(), built, "v1");

        Assert.True(await layout.UntagAsync("v1"));
        Assert.False(await layout.UntagAsync("v1"));
        Assert.Empty(await layout.ListTagsAsync());
        Assert.True(File.Exists(layout.GetBlobPath(built.Manifest.Digest)));
    }

    [Fact]
    public async Task PushManifestAsync_ManyConcurrentTagsAcrossInstances_NoneLost()
    {
        var layouts = new[] { OciImageLayout.Create(LayoutPath), OciImageLayout.Open(LayoutPath) };
        var built = SampleImage();
        await TestImages.PushAsync(layouts[0], Ref(), built, null);

        await Task.WhenAll(Enumerable.Range(0, 40).Select(i => Task.Run(() => layouts[i % 2].PushManifestAsync(built.Manifest, $"t{i}"))));

        var tags = await layouts[0].ListTagsAsync();
        Assert.Equal(40, tags.Count);
        Assert.Equal(Enumerable.Range(0, 40).Select(i => $"t{i}").Order(), tags.Order());
        Assert.Empty(TempFiles());
    }

    [Fact]
    public async Task ResolveAsync_MissingTag_ThrowsBlobNotFoundListingTags()
    {
        var layout = OciImageLayout.Create(LayoutPath);
        await TestImages.PushAsync(layout, Ref(), SampleImage("a"), "alpha");
        await TestImages.PushAsync(layout, Ref(), SampleImage("b"), "beta");

        var ex = await Assert.ThrowsAsync<BlobNotFoundException>(() => layout.ResolveAsync(Ref("gamma")));

        Assert.Contains("gamma", ex.Message);
        Assert.Contains("alpha, beta", ex.Message);
    }

    [Fact]
    public async Task ResolveAsync_NoTagOneImage_ReturnsIt()
    {
        var layout = OciImageLayout.Create(LayoutPath);
        var built = SampleImage();
        await TestImages.PushAsync(layout, Ref(), built, "only");

        var descriptor = await layout.ResolveAsync(Ref());

        Assert.Equal(built.Manifest.Digest, descriptor.Digest);
        Assert.Equal(built.Manifest.Bytes.Length, descriptor.Size);
    }

    [Fact]
    public async Task ResolveAsync_NoTagSeveralImages_ThrowsInvalidOperationListingTags()
    {
        var layout = OciImageLayout.Create(LayoutPath);
        await TestImages.PushAsync(layout, Ref(), SampleImage("a"), "alpha");
        await TestImages.PushAsync(layout, Ref(), SampleImage("b"), "beta");

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => layout.ResolveAsync(Ref()));
        Assert.Contains("alpha, beta", ex.Message);
    }

    [Fact]
    public async Task ResolveAsync_NoTagEmptyLayout_ThrowsBlobNotFound()
    {
        var layout = OciImageLayout.Create(LayoutPath);
        await Assert.ThrowsAsync<BlobNotFoundException>(() => layout.ResolveAsync(Ref()));
    }

    [Fact]
    public async Task ResolveAsync_DigestOfTaggedManifest_ReturnsIndexEntry()
    {
        var layout = OciImageLayout.Create(LayoutPath);
        var built = SampleImage();
        await TestImages.PushAsync(layout, Ref(), built, "v1");

        var descriptor = await layout.ResolveAsync(ImageReference.Parse($"oci:{LayoutPath}@{built.Manifest.Digest}"));

        Assert.Equal("v1", descriptor.Annotations![OciImageLayout.RefNameAnnotation]);
    }

    [Fact]
    public async Task ResolveAsync_UnknownDigest_ThrowsBlobNotFound()
    {
        var layout = OciImageLayout.Create(LayoutPath);
        var digest = Digest.Compute("nothing"u8);
        await Assert.ThrowsAsync<BlobNotFoundException>(() => layout.ResolveAsync(ImageReference.Parse($"oci:{LayoutPath}@{digest}")));
    }

    [Fact]
    public async Task GetManifestAsync_ReferenceToAnotherLayout_ThrowsArgumentException()
    {
        var layout = OciImageLayout.Create(LayoutPath);
        await Assert.ThrowsAsync<ArgumentException>(() => layout.GetManifestAsync(ImageReference.Parse("oci:" + _directory.Combine("other") + ":v1")));
    }

    [Fact]
    public async Task GetManifestAsync_RegistryReference_UsesItsTag()
    {
        var layout = OciImageLayout.Create(LayoutPath);
        var built = SampleImage();
        await TestImages.PushAsync(layout, Ref(), built, "latest");

        var document = await layout.GetManifestAsync(ImageReference.Parse("example.com/some/image"));

        Assert.Equal(built.Manifest.Digest, document.Digest);
    }

    [Fact]
    public async Task GetManifestAsync_CorruptedManifestBlob_ThrowsDigestMismatch()
    {
        var layout = OciImageLayout.Create(LayoutPath);
        var built = SampleImage();
        await TestImages.PushAsync(layout, Ref(), built, "v1");
        byte[] bytes = File.ReadAllBytes(layout.GetBlobPath(built.Manifest.Digest));
        bytes[10] ^= 1;
        File.WriteAllBytes(layout.GetBlobPath(built.Manifest.Digest), bytes);

        await Assert.ThrowsAsync<DigestMismatchException>(() => layout.GetManifestAsync(Ref("v1")));
    }

    [Fact]
    public async Task GetManifestAsync_ManifestBlobMissing_ThrowsBlobNotFound()
    {
        var layout = OciImageLayout.Create(LayoutPath);
        var built = SampleImage();
        await TestImages.PushAsync(layout, Ref(), built, "v1");
        File.Delete(layout.GetBlobPath(built.Manifest.Digest));

        await Assert.ThrowsAsync<BlobNotFoundException>(() => layout.GetManifestAsync(Ref("v1")));
    }

    [Fact]
    public async Task GetManifestAsync_HugeUnlistedManifestBlob_ThrowsContentTooLarge()
    {
        var layout = OciImageLayout.Create(LayoutPath);
        byte[] huge = new byte[ManifestDocument.MaxSize + 1];
        var descriptor = Descriptor.FromContent("application/octet-stream", huge);
        await layout.PushBlobAsync(descriptor, new MemoryStream(huge));

        await Assert.ThrowsAsync<ContentTooLargeException>(() => layout.GetManifestAsync(descriptor.Digest));
    }

    [Fact]
    public async Task BlobExistsAsync_StoredAndMissing_Distinguished()
    {
        var layout = OciImageLayout.Create(LayoutPath);
        var built = SampleImage();
        await TestImages.PushAsync(layout, Ref(), built, "v1");

        Assert.True(await layout.BlobExistsAsync(Ref(), built.Manifest.Manifest!.Config));
        Assert.False(await layout.BlobExistsAsync(Ref(), Descriptor.FromContent("x", "missing"u8)));
    }

    [Theory]
    [InlineData("")]
    [InlineData("{")]
    [InlineData("[]")]
    [InlineData("{}")]
    [InlineData("""{"manifests":null}""")]
    [InlineData("""{"manifests":[null]}""")]
    [InlineData("""{"manifests":[{"digest":"sha256:../../etc/passwd","size":1}]}""")]
    [InlineData("""{"manifests":[{"digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":-1}]}""")]
    [InlineData("""{"manifests":[{"mediaType":1,"digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":1}]}""")]
    [InlineData("""{"manifests":[{"digest":1,"size":1}]}""")]
    [InlineData("""{"manifests":[{"digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":"1"}]}""")]
    [InlineData("""{"manifests":[{"digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":1.5}]}""")]
    [InlineData("""{"manifests":[{"digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":1,"annotations":{"a":1}}]}""")]
    [InlineData("""{"manifests":[{"digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":1,"platform":{"os":"linux"}}]}""")]
    public async Task GetIndexAsync_MalformedIndex_ThrowsFormatException(string content)
    {
        var layout = OciImageLayout.Create(LayoutPath);
        File.WriteAllText(Path.Combine(LayoutPath, "index.json"), content);
        await Assert.ThrowsAsync<FormatException>(() => layout.GetIndexAsync());
    }

    [Fact]
    public async Task GetIndexAsync_FuzzedIndex_CleanErrorOrResult()
    {
        var layout = OciImageLayout.Create(LayoutPath);
        var built = SampleImage();
        await TestImages.PushAsync(layout, Ref(), built, "v1");
        byte[] seed = File.ReadAllBytes(Path.Combine(LayoutPath, "index.json"));
        var random = new Random(20240601);
        for (int i = 0; i < 400; i++)
        {
            byte[] input = FuzzInput.Mutate(seed, random);
            File.WriteAllBytes(Path.Combine(LayoutPath, "index.json"), input);
            try
            {
                var index = await layout.GetIndexAsync();
                Assert.All(index.Manifests, m => Assert.NotNull(m));
                _ = await layout.ListTagsAsync();
            }
            catch (FormatException)
            {
            }
        }
    }

    /// <summary>A stream that fails the test if anyone reads it.</summary>
    private sealed class UnreadableStream : MemoryStream
    {
        public override int Read(Span<byte> buffer) => throw new InvalidOperationException("The content was read.");

        public override int Read(byte[] buffer, int offset, int count) => throw new InvalidOperationException("The content was read.");

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => throw new InvalidOperationException("The content was read.");

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => throw new InvalidOperationException("The content was read.");
    }
}
