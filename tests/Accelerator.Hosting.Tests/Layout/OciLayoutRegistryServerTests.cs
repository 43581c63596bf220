using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Accelerator.Hosting.Layout;
using Accelerator.Oci.Layout;
using Accelerator.Oci.Tests.Layout;
using Accelerator.Testing.Samples;

namespace Accelerator.Hosting.Tests.Layout;

/// <summary>The read-only registry over a layout, checked with skopeo (a real client) and raw HTTP.</summary>
public sealed class OciLayoutRegistryServerTests : IAsyncLifetime
{
    private const string Repository = "demo/sample";
    private readonly TempDirectory _directory = new();
    private readonly HttpClient _http = new();
    private SampleImage _sample = null!;
    private OciLayoutRegistryServer _server = null!;

    public async Task InitializeAsync()
    {
        _sample = await SampleImageGenerator.WriteLayoutAsync(_directory.Combine("layout"), new SampleImageOptions { LayerCount = 2, TotalSize = 512 * 1024, Seed = 7 });
        _server = await OciLayoutRegistryServer.StartAsync(OciImageLayout.Open(_sample.LayoutPath), new OciLayoutRegistryServerOptions { Repository = Repository });
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _http.Dispose();
        _directory.Dispose();
    }

    private string Docker(string reference) => $"docker://{_server.Host}/{Repository}{reference}";

    private Uri Api(string path) => new(_server.Url, "v2/" + path);

    [Fact]
    public async Task Skopeo_CopyByTag_CopiesTheImageWithItsDigests()
    {
        string destination = _directory.Combine("copy");

        await ExternalTool.RunAsync("skopeo", "copy", "--quiet", "--src-tls-verify=false", "--preserve-digests", Docker(":latest"), $"oci:{destination}:latest");

        var copy = OciImageLayout.Open(destination);
        Assert.Equal(_sample.Manifest.Digest, (await copy.ResolveTagAsync("latest")).Digest);
        foreach (var layer in _sample.Layers)
        {
            Assert.Equal(layer.Size, new FileInfo(copy.GetBlobPath(layer.Digest)).Length);
        }

        var statistics = _server.GetStatistics();
        Assert.Equal(_sample.Layers.Sum(l => l.Size) + _sample.Config.Size, statistics.BlobBytesServed);
        Assert.True(statistics.ManifestBytesServed >= _sample.Manifest.Size);
    }

    [Fact]
    public async Task Skopeo_InspectRawByDigest_ReturnsTheManifestBytes()
    {
        string raw = await ExternalTool.RunAsync("skopeo", "inspect", "--raw", "--tls-verify=false", Docker("@" + _sample.Manifest.Digest));

        byte[] expected = await File.ReadAllBytesAsync(OciImageLayout.Open(_sample.LayoutPath).GetBlobPath(_sample.Manifest.Digest));
        Assert.Equal(System.Text.Encoding.UTF8.GetString(expected).Trim(), raw.Trim());
    }

    [Fact]
    public async Task Skopeo_ListTags_ListsTheLayoutsTags()
    {
        string json = await ExternalTool.RunAsync("skopeo", "list-tags", "--tls-verify=false", Docker(""));

        using var document = JsonDocument.Parse(json);
        Assert.Equal(["latest"], document.RootElement.GetProperty("Tags").EnumerateArray().Select(t => t.GetString()));
    }

    [Fact]
    public async Task GetManifest_ByTag_ServesMediaTypeDigestAndCountsBytes()
    {
        using var response = await _http.GetAsync(Api($"{Repository}/manifests/latest"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(_sample.Manifest.MediaType, response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(_sample.Manifest.Digest.ToString(), response.Headers.GetValues("Docker-Content-Digest").Single());
        Assert.Equal(_sample.Manifest.Size, (await response.Content.ReadAsByteArrayAsync()).Length);
        Assert.Equal(_sample.Manifest.Size, _server.GetStatistics().ManifestBytesServed);
    }

    [Fact]
    public async Task HeadManifest_ByDigest_GivesDigestAndSizeAndServesNoBytes()
    {
        using var response = await _http.SendAsync(new HttpRequestMessage(HttpMethod.Head, Api($"{Repository}/manifests/{_sample.Manifest.Digest}")));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(_sample.Manifest.Size, response.Content.Headers.ContentLength);
        Assert.Equal(_sample.Manifest.Digest.ToString(), response.Headers.GetValues("Docker-Content-Digest").Single());
        Assert.Equal(0, _server.GetStatistics().BytesServed);
        Assert.Equal(1, _server.GetStatistics().Requests);
    }

    [Fact]
    public async Task GetBlob_ManyAtOnce_EveryBodyWholeAndCounted()
    {
        var layer = _sample.Layers[0];

        var bodies = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => _http.GetByteArrayAsync(Api($"{Repository}/blobs/{layer.Digest}"))));

        Assert.All(bodies, body => Assert.Equal(layer.Digest, Digest.Compute(body)));
        Assert.Equal(8 * layer.Size, _server.GetStatistics().BlobBytesServed);
    }

    [Fact]
    public async Task GetBlob_SingleRange_Returns206WithThatSlice()
    {
        var layer = _sample.Layers[0];
        byte[] whole = await File.ReadAllBytesAsync(OciImageLayout.Open(_sample.LayoutPath).GetBlobPath(layer.Digest));
        using var request = new HttpRequestMessage(HttpMethod.Get, Api($"{Repository}/blobs/{layer.Digest}"));
        request.Headers.Range = new RangeHeaderValue(100, 1099);

        using var response = await _http.SendAsync(request);

        Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
        Assert.Equal($"bytes 100-1099/{whole.Length}", response.Content.Headers.ContentRange?.ToString());
        Assert.Equal(whole.AsSpan(100, 1000).ToArray(), await response.Content.ReadAsByteArrayAsync());
        Assert.Equal(1000, _server.GetStatistics().BlobBytesServed);
    }

    [Fact]
    public async Task GetBlob_SuffixRange_ReturnsTheTail()
    {
        var layer = _sample.Layers[1];
        byte[] whole = await File.ReadAllBytesAsync(OciImageLayout.Open(_sample.LayoutPath).GetBlobPath(layer.Digest));
        using var request = new HttpRequestMessage(HttpMethod.Get, Api($"{Repository}/blobs/{layer.Digest}"));
        request.Headers.TryAddWithoutValidation("Range", "bytes=-10");

        using var response = await _http.SendAsync(request);

        Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
        Assert.Equal(whole[^10..], await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task GetBlob_RangePastTheEnd_Returns416WithTheSize()
    {
        var layer = _sample.Layers[0];
        using var request = new HttpRequestMessage(HttpMethod.Get, Api($"{Repository}/blobs/{layer.Digest}"));
        request.Headers.Range = new RangeHeaderValue(layer.Size, null);

        using var response = await _http.SendAsync(request);

        Assert.Equal(HttpStatusCode.RequestedRangeNotSatisfiable, response.StatusCode);
        Assert.Equal($"bytes */{layer.Size}", response.Content.Headers.ContentRange?.ToString());
        Assert.Equal(0, _server.GetStatistics().BlobBytesServed);
    }

    [Fact]
    public async Task HeadBlob_GivesTheSizeAndServesNoBytes()
    {
        var layer = _sample.Layers[0];
        using var response = await _http.SendAsync(new HttpRequestMessage(HttpMethod.Head, Api($"{Repository}/blobs/{layer.Digest}")));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(layer.Size, response.Content.Headers.ContentLength);
        Assert.Equal(0, _server.GetStatistics().BytesServed);
    }

    [Theory]
    [InlineData("demo/sample/manifests/missing", HttpStatusCode.NotFound, "MANIFEST_UNKNOWN")]
    [InlineData("demo/sample/manifests/sha256:0000000000000000000000000000000000000000000000000000000000000000", HttpStatusCode.NotFound, "MANIFEST_UNKNOWN")]
    [InlineData("demo/sample/manifests/..%2F..%2Findex.json", HttpStatusCode.NotFound, "MANIFEST_UNKNOWN")]
    [InlineData("demo/sample/blobs/sha256:0000000000000000000000000000000000000000000000000000000000000000", HttpStatusCode.NotFound, "BLOB_UNKNOWN")]
    [InlineData("demo/sample/blobs/sha256:..%2F..%2Findex.json", HttpStatusCode.BadRequest, "DIGEST_INVALID")]
    [InlineData("other/repo/manifests/latest", HttpStatusCode.NotFound, "NAME_UNKNOWN")]
    [InlineData("demo/sample/uploads/", HttpStatusCode.NotFound, "NOT_FOUND")]
    public async Task Get_UnknownOrInvalid_AnswersWithTheRegistryErrorCode(string path, HttpStatusCode status, string code)
    {
        using var response = await _http.GetAsync(Api(path));

        Assert.Equal(status, response.StatusCode);
        using var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(code, error.RootElement.GetProperty("errors")[0].GetProperty("code").GetString());
    }

    [Fact]
    public async Task Put_Manifest_Returns405Unsupported()
    {
        using var response = await _http.PutAsync(Api($"{Repository}/manifests/latest"), new ByteArrayContent([1, 2, 3]));

        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Contains("UNSUPPORTED", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task GetBlob_CorruptFileInLayout_Returns500AndServesNothing()
    {
        var layer = _sample.Layers[1];
        string path = OciImageLayout.Open(_sample.LayoutPath).GetBlobPath(layer.Digest);
        byte[] content = await File.ReadAllBytesAsync(path);
        content[content.Length / 2] ^= 0xFF;
        await File.WriteAllBytesAsync(path, content);

        using var response = await _http.GetAsync(Api($"{Repository}/blobs/{layer.Digest}"));

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal(0, _server.GetStatistics().BlobBytesServed);
    }

    [Fact]
    public async Task Ping_AnswersWithTheApiVersion()
    {
        using var response = await _http.GetAsync(new Uri(_server.Url, "v2/"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("registry/2.0", response.Headers.GetValues("Docker-Distribution-API-Version").Single());
    }

    [Theory]
    [InlineData("Demo/Sample")]
    [InlineData("demo//sample")]
    [InlineData("-demo")]
    [InlineData("")]
    public async Task StartAsync_InvalidRepository_Throws(string repository)
    {
        await Assert.ThrowsAsync<ArgumentException>(() => OciLayoutRegistryServer.StartAsync(
            OciImageLayout.Open(_sample.LayoutPath), new OciLayoutRegistryServerOptions { Repository = repository }));
    }
}
