using System.Diagnostics;
using System.Net;
using Accelerator.Oci.Model;
using Accelerator.Oci.Registry;

namespace Accelerator.Oci.Tests.Registry;

/// <summary>The client against a real, open docker-registry.</summary>
[Collection(RegistryCollection.Name)]
public sealed class RegistryClientTests(RegistryFixture fixture)
{
    private string Host => fixture.Open.Host;

    [Fact]
    public async Task PingAsync_OpenRegistry_ReturnsOkWithoutChallenge()
    {
        using var client = new RegistryClient(RegistryFixture.Options());
        var ping = await client.PingAsync(Host);
        Assert.Equal(HttpStatusCode.OK, ping.StatusCode);
        Assert.False(ping.RequiresAuth);
        Assert.Empty(ping.Challenges);
        Assert.Equal("registry/2.0", ping.ApiVersion);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task PutManifestAsync_OciAndDocker_RoundTripsByTagAndDigest(bool docker)
    {
        using var client = new RegistryClient(RegistryFixture.Options());
        var image = TestImage.Create(docker ? 11 : 12, docker);
        string repo = docker ? "roundtrip/docker" : "roundtrip/oci";
        await image.PushAsync(client, Host, repo, "v1");

        var byTag = await client.GetManifestAsync(Host, repo, "v1");
        Assert.Equal(image.Manifest.Digest, byTag.Digest);
        Assert.Equal(image.Manifest.MediaType, byTag.MediaType);
        Assert.True(byTag.Bytes.Span.SequenceEqual(image.Manifest.Bytes.Span));

        var byDigest = await client.GetManifestAsync(Host, repo, image.Manifest.Digest.ToString());
        Assert.Equal(image.Manifest.Digest, byDigest.Digest);
        Assert.Equal(image.Manifest.Manifest!.Layers.Count, byDigest.Manifest!.Layers.Count);

        var head = await client.HeadManifestAsync(Host, repo, "v1");
        Assert.NotNull(head);
        Assert.Equal(image.Manifest.Descriptor, head);
        Assert.Null(await client.HeadManifestAsync(Host, repo, "missing"));
        await Assert.ThrowsAsync<BlobNotFoundException>(() => client.GetManifestAsync(Host, repo, "missing"));
    }

    [Fact]
    public async Task GetManifestDescriptorAsync_Tag_AnswersLikeTheManifestAndThrowsWhenMissing()
    {
        using var client = new RegistryClient(RegistryFixture.Options());
        var image = TestImage.Create(13);
        await image.PushAsync(client, Host, "descriptor/app", "v1");
        IImageStore store = client.GetStore(Host);
        var tag = ImageReference.Parse($"{Host}/descriptor/app:v1");

        var descriptor = await store.GetManifestDescriptorAsync(tag);

        Assert.Equal((await store.GetManifestAsync(tag)).Descriptor, descriptor);
        Assert.Equal(image.Manifest.Descriptor, descriptor);
        await Assert.ThrowsAsync<BlobNotFoundException>(() => store.GetManifestDescriptorAsync(ImageReference.Parse($"{Host}/descriptor/app:missing")));
    }

    [Fact]
    public async Task PutManifestAsync_Index_PushesAndPullsManifestList()
    {
        using var client = new RegistryClient(RegistryFixture.Options());
        var amd = TestImage.Create(21);
        var arm = TestImage.Create(22);
        await amd.PushAsync(client, Host, "multi/app", null);
        await arm.PushAsync(client, Host, "multi/app", null);
        var index = ManifestDocument.From(new ImageIndex
        {
            Manifests =
            [
                amd.Manifest.Descriptor with { Platform = new Platform("linux", "amd64") },
                arm.Manifest.Descriptor with { Platform = new Platform("linux", "arm64", "v8") },
            ],
        });
        await client.PutManifestAsync(Host, "multi/app", index, "latest");

        var pulled = await client.GetManifestAsync(Host, "multi/app", "latest");
        Assert.True(pulled.IsIndex);
        Assert.Equal(index.Digest, pulled.Digest);
        var arm64 = pulled.Index!.SelectPlatform(new Platform("linux", "arm64", "v8"));
        Assert.Equal(arm.Manifest.Digest, arm64!.Digest);
        var child = await client.GetManifestAsync(Host, "multi/app", arm64.Digest.ToString());
        Assert.Equal(arm.Manifest.Digest, child.Digest);
    }

    [Fact]
    public async Task GetBlobAsync_WholeRangeAndHead_ReturnExactBytes()
    {
        using var client = new RegistryClient(RegistryFixture.Options());
        var image = TestImage.Create(31, false, 100_000);
        await image.PushAsync(client, Host, "blobs/read", "v1");
        var (layer, bytes) = image.Blobs.Last();

        await using (var whole = await client.GetBlobAsync(Host, "blobs/read", layer.Digest, layer.Size))
        {
            var copy = new MemoryStream();
            await whole.CopyToAsync(copy);
            Assert.Equal(bytes, copy.ToArray());
        }

        await using (var range = await client.GetBlobRangeAsync(Host, "blobs/read", layer.Digest, 12_345, 1000))
        {
            var copy = new MemoryStream();
            await range.CopyToAsync(copy);
            Assert.Equal(bytes.AsSpan(12_345, 1000).ToArray(), copy.ToArray());
        }

        // A range past the end is cut at the blob's end; one starting past it is empty.
        var source = client.GetStore(Host).BlobSource;
        var tail = new byte[500];
        int n = await source.ReadRangeAsync(new BlobAddress("blobs/read", layer.Digest), bytes.Length - 200, tail);
        Assert.Equal(200, n);
        Assert.Equal(bytes.AsSpan(bytes.Length - 200).ToArray(), tail[..200]);
        Assert.Equal(0, await source.ReadRangeAsync(new BlobAddress("blobs/read", layer.Digest), bytes.Length + 10, tail));

        Assert.Equal(layer.Size, await client.HeadBlobAsync(Host, "blobs/read", layer.Digest));
        Assert.Equal(layer.Size, await source.GetSizeAsync(new BlobAddress("blobs/read", layer.Digest)));
        Assert.True(await source.ExistsAsync(new BlobAddress("blobs/read", layer.Digest)));
        var absent = Digest.Compute("absent"u8);
        Assert.Null(await client.HeadBlobAsync(Host, "blobs/read", absent));
        Assert.False(await source.ExistsAsync(new BlobAddress("blobs/read", absent)));
        await Assert.ThrowsAsync<BlobNotFoundException>(() => source.OpenReadAsync(new BlobAddress("blobs/read", absent)));
        await Assert.ThrowsAsync<BlobNotFoundException>(async () => await source.GetSizeAsync(new BlobAddress("blobs/read", absent)));
    }

    [Fact]
    public async Task UploadBlobChunkedAsync_SeveralChunks_StoresBlob()
    {
        using var client = new RegistryClient(RegistryFixture.Options());
        byte[] data = new byte[10_000];
        new Random(41).NextBytes(data);
        var blob = Descriptor.FromContent(MediaTypes.OciLayer, data);
        await client.UploadBlobChunkedAsync(Host, "push/chunked", blob, new MemoryStream(data), chunkSize: 3000);
        // Four PATCH requests (3000 + 3000 + 3000 + 1000 bytes) reached the registry.
        Assert.Equal(4, fixture.Open.ReadLog().Split('\n').Count(l => l.Contains("\"PATCH /v2/push/chunked/blobs/uploads/", StringComparison.Ordinal)));
        Assert.Equal(data.Length, await client.HeadBlobAsync(Host, "push/chunked", blob.Digest));
        await using var read = await client.GetBlobAsync(Host, "push/chunked", blob.Digest, blob.Size);
        var copy = new MemoryStream();
        await read.CopyToAsync(copy);
        Assert.Equal(data, copy.ToArray());
    }

    [Fact]
    public async Task PushBlobAsync_AboveThreshold_UsesChunksAndSkipsExisting()
    {
        using var client = new RegistryClient(RegistryFixture.Options(o => { o.ChunkedUploadThreshold = 4096; o.UploadChunkSize = 1024; }));
        byte[] data = new byte[5000];
        new Random(42).NextBytes(data);
        var blob = Descriptor.FromContent(MediaTypes.OciLayer, data);
        Assert.True(await client.PushBlobAsync(Host, "push/auto", blob, new MemoryStream(data)));
        Assert.False(await client.PushBlobAsync(Host, "push/auto", blob, new MemoryStream(data)));
        Assert.Equal(data.Length, await client.HeadBlobAsync(Host, "push/auto", blob.Digest));
    }

    [Fact]
    public async Task UploadBlobMonolithicAsync_WrongDigest_FailsWithRegistryError()
    {
        using var client = new RegistryClient(RegistryFixture.Options());
        byte[] data = "these bytes"u8.ToArray();
        var claimed = new Descriptor(MediaTypes.OciLayer, Digest.Compute("other bytes"u8), data.Length);
        var error = await Assert.ThrowsAsync<RegistryException>(() => client.UploadBlobMonolithicAsync(Host, "push/bad", claimed, new MemoryStream(data)));
        Assert.Equal(HttpStatusCode.BadRequest, error.StatusCode);
        Assert.Equal("DIGEST_INVALID", error.ErrorCode);
        Assert.Contains("DIGEST_INVALID", error.Message);
        Assert.Null(await client.HeadBlobAsync(Host, "push/bad", claimed.Digest));
    }

    [Fact]
    public async Task MountBlobAsync_FromOtherRepository_MountsWithoutUpload()
    {
        using var client = new RegistryClient(RegistryFixture.Options());
        byte[] data = new byte[2048];
        new Random(51).NextBytes(data);
        var blob = Descriptor.FromContent(MediaTypes.OciLayer, data);
        await client.UploadBlobMonolithicAsync(Host, "mount/source", blob, new MemoryStream(data));

        Assert.Null(await client.HeadBlobAsync(Host, "mount/target", blob.Digest));
        Assert.True(await client.MountBlobAsync(Host, "mount/target", blob.Digest, "mount/source"));
        Assert.Equal(data.Length, await client.HeadBlobAsync(Host, "mount/target", blob.Digest));

        // Nothing was uploaded into the target: the registry keeps no upload session for it.
        string uploads = Path.Combine(fixture.Open.StoragePath, "docker/registry/v2/repositories/mount/target/_uploads");
        Assert.True(!Directory.Exists(uploads) || Directory.GetFileSystemEntries(uploads).Length == 0);

        var unknown = Digest.Compute("never pushed"u8);
        Assert.False(await client.MountBlobAsync(Host, "mount/target", unknown, "mount/source"));
    }

    [Fact]
    public async Task ListTagsAsync_RealRegistry_ReturnsAllTags()
    {
        using var client = new RegistryClient(RegistryFixture.Options());
        var image = TestImage.Create(61);
        await image.PushAsync(client, Host, "tags/paged", "a");
        foreach (string tag in new[] { "b", "c", "d", "e" })
        {
            await client.PutManifestAsync(Host, "tags/paged", image.Manifest, tag);
        }

        // distribution 2.8 ignores `n` for tags (pagination is tested against a stand-in in RegistryFaultTests).
        var tags = await client.ListTagsAsync(Host, "tags/paged", pageSize: 2);
        Assert.Equal(["a", "b", "c", "d", "e"], tags.Order());
        Assert.Equal(tags.Order(), (await client.GetStore(Host).ListTagsAsync(ImageReference.Parse($"{Host}/tags/paged"))).Order());
        await Assert.ThrowsAsync<BlobNotFoundException>(() => client.ListTagsAsync(Host, "tags/none"));
    }

    [Fact]
    public async Task ListTagsAsync_MoreThanMaxTags_Refused()
    {
        using var client = new RegistryClient(RegistryFixture.Options(o => o.MaxTags = 2));
        var image = TestImage.Create(62);
        await image.PushAsync(client, Host, "tags/many", "x1");
        await client.PutManifestAsync(Host, "tags/many", image.Manifest, "x2");
        await client.PutManifestAsync(Host, "tags/many", image.Manifest, "x3");
        await Assert.ThrowsAsync<ContentTooLargeException>(() => client.ListTagsAsync(Host, "tags/many", pageSize: 1));
    }

    [Fact]
    public async Task DownloadBlobsToDirectoryAsync_ManyBlobs_WritesVerifiedFilesInParallel()
    {
        using var client = new RegistryClient(RegistryFixture.Options(o => o.MaxParallelDownloads = 3));
        var image = TestImage.Create(71, false, 5000, 6000, 7000, 8000, 9000);
        await image.PushAsync(client, Host, "download/all", "v1");
        string dir = Directory.CreateTempSubdirectory("accel-dl-").FullName;
        try
        {
            var paths = await client.DownloadBlobsToDirectoryAsync(Host, "download/all", image.Blobs.Select(b => b.Descriptor), dir);
            foreach (var (descriptor, bytes) in image.Blobs)
            {
                Assert.Equal(bytes, await File.ReadAllBytesAsync(paths[descriptor.Digest]));
            }

            Assert.Empty(Directory.GetFiles(dir, "*.partial", SearchOption.AllDirectories));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public async Task RegistryImageStore_PushAndPull_ThroughIImageStore()
    {
        using var client = new RegistryClient(RegistryFixture.Options());
        IImageStore store = client.GetStore(Host);
        var image = TestImage.Create(81);
        var reference = ImageReference.Parse($"{Host}/store/app:1.0");
        foreach (var (descriptor, bytes) in image.Blobs)
        {
            Assert.False(await store.BlobExistsAsync(reference, descriptor));
            await store.PushBlobAsync(reference, descriptor, new MemoryStream(bytes));
            Assert.True(await store.BlobExistsAsync(reference, descriptor));
        }

        await store.PushManifestAsync(reference, image.Manifest, "1.0");
        var pulled = await store.GetManifestAsync(reference);
        Assert.Equal(image.Manifest.Digest, pulled.Digest);
        Assert.Equal(image.Manifest.Digest, (await store.GetManifestAsync(reference, image.Manifest.Digest)).Digest);
        var config = await store.Blobs.ReadAllBytesAsync(BlobAddress.For(reference.Repository, pulled.Manifest!.Config), 1 << 20);
        Assert.Equal(image.Config, config);
        Assert.Throws<ArgumentException>(() => { _ = store.GetManifestAsync(ImageReference.Parse("other.example:5000/store/app:1.0")); });
    }

    [Fact]
    public async Task GetManifestAsync_ImagePushedBySkopeo_ReadsIt()
    {
        var image = TestImage.Create(91);
        string layout = Directory.CreateTempSubdirectory("accel-layout-").FullName;
        try
        {
            await WriteLayoutAsync(layout, image, "v9");
            await RunAsync("skopeo", "copy", "--quiet", "--dest-tls-verify=false", $"oci:{layout}:v9", $"docker://{Host}/skopeo/pushed:v9");
        }
        finally
        {
            Directory.Delete(layout, true);
        }

        using var client = new RegistryClient(RegistryFixture.Options());
        var manifest = await client.GetManifestAsync(Host, "skopeo/pushed", "v9");
        // skopeo may re-serialize the manifest; the content it names must be ours.
        Assert.Equal(image.Manifest.Manifest!.Config.Digest, manifest.Manifest!.Config.Digest);
        Assert.Equal(image.Manifest.Manifest.Layers.Select(l => l.Digest), manifest.Manifest.Layers.Select(l => l.Digest));
        var bytes = await client.GetStore(Host).Blobs.ReadAllBytesAsync(BlobAddress.For("skopeo/pushed", manifest.Manifest!.Layers[0]), 1 << 20);
        Assert.Equal(image.Layers[0], bytes);
    }

    [Fact]
    public async Task PutManifestAsync_ReadBySkopeo_SameDigest()
    {
        using var client = new RegistryClient(RegistryFixture.Options());
        var image = TestImage.Create(92);
        await image.PushAsync(client, Host, "skopeo/read", "v1");
        string raw = await RunAsync("skopeo", "inspect", "--raw", "--tls-verify=false", $"docker://{Host}/skopeo/read:v1");
        Assert.Equal(image.Manifest.Digest, Digest.Compute(System.Text.Encoding.UTF8.GetBytes(raw.TrimEnd('\n'))));
    }

    private static async Task WriteLayoutAsync(string dir, TestImage image, string tag)
    {
        string blobs = Path.Combine(dir, "blobs", "sha256");
        Directory.CreateDirectory(blobs);
        foreach (var (descriptor, bytes) in image.Blobs)
        {
            await File.WriteAllBytesAsync(Path.Combine(blobs, descriptor.Digest.Encoded), bytes);
        }

        await File.WriteAllBytesAsync(Path.Combine(blobs, image.Manifest.Digest.Encoded), image.Manifest.Bytes.ToArray());
        await File.WriteAllTextAsync(Path.Combine(dir, "oci-layout"), """{"imageLayoutVersion":"1.0.0"}""");
        var index = ManifestDocument.From(new ImageIndex
        {
            Manifests = [image.Manifest.Descriptor with { Annotations = new Dictionary<string, string> { ["org.opencontainers.image.ref.name"] = tag } }],
        });
        await File.WriteAllBytesAsync(Path.Combine(dir, "index.json"), index.Bytes.ToArray());
    }

    private static async Task<string> RunAsync(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        string stderr = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"{file} failed: {stderr}");
        return await stdout;
    }
}
