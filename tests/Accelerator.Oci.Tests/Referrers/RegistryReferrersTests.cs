using System.Collections.Concurrent;
using System.Text;
using Accelerator.Oci.Model;
using Accelerator.Oci.Referrers;
using Accelerator.Oci.Registry;
using Accelerator.Testing.Registry;
using Microsoft.AspNetCore.Http;

namespace Accelerator.Oci.Tests.Referrers;

/// <summary>
/// The registry client against a registry that has the referrers API (distribution-spec 1.1). No such registry is
/// installed here (docker-registry 2.8 has none; our layout server is read-only), so a stand-in on a real socket plays
/// one: it stores manifests, answers a PUT with a subject with <c>OCI-Subject</c>, and lists referrers in two pages
/// without applying the filter. The fallback (no API) is tested against docker-registry 2.8 in the integration tests.
/// </summary>
public sealed class RegistryReferrersTests
{
    private const string Repository = "team/app";
    private const string ArtifactType = "application/vnd.example.sbom.v1";

    [Fact]
    public async Task PushAsync_RegistryAnswersOciSubject_NoReferrersTagWritten()
    {
        await using var registry = await ApiRegistry.StartAsync();
        using var client = new RegistryClient(TestRegistryOptions.Create());
        var store = client.GetStore(registry.Host);
        var image = ImageReference.Create(registry.Host, Repository, "v1");
        var referrer = Referrer(Digest.Compute("image"u8), ArtifactType);

        string listing = await ImageReferrers.PushAsync(store, image, referrer);

        Assert.Equal(ImageReferrers.ApiSource, listing);
        Assert.True(registry.Manifests.ContainsKey(referrer.Digest.ToString()));
        Assert.DoesNotContain(registry.Manifests.Keys, k => k.StartsWith("sha256-", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ListAsync_TwoPagesFilterNotApplied_EveryPageReadAndFilteredHere()
    {
        await using var registry = await ApiRegistry.StartAsync();
        using var client = new RegistryClient(TestRegistryOptions.Create());
        var image = ImageReference.Create(registry.Host, Repository, "v1");
        var subject = Digest.Compute("image"u8);
        registry.Pages.Add([Referrer(subject, ArtifactType), Referrer(subject, "application/vnd.example.signature")]);
        registry.Pages.Add([Referrer(subject, ArtifactType, "second")]);

        var listing = await ImageReferrers.ListAsync(client.GetStore(registry.Host), image, subject, ArtifactType);

        Assert.Equal(ImageReferrers.ApiSource, listing.Source);
        Assert.Equal(2, listing.Referrers.Count);
        Assert.All(listing.Referrers, r => Assert.Equal(ArtifactType, r.ArtifactType));
        Assert.Equal($"artifactType={Uri.EscapeDataString(ArtifactType)}", registry.Queries.First().TrimStart('?'));
    }

    [Fact]
    public async Task GetReferrersAsync_RegistryWithoutTheApi_Null()
    {
        await using var registry = await LoopbackHttpServer.StartAsync(context =>
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return Task.CompletedTask;
        });
        using var client = new RegistryClient(TestRegistryOptions.Create());

        var referrers = await client.GetReferrersAsync(registry.Host, Repository, Digest.Compute("image"u8));

        Assert.Null(referrers);
    }

    [Fact]
    public async Task GetReferrersAsync_HostileAnswer_InvalidData()
    {
        await using var registry = await LoopbackHttpServer.StartAsync(async context =>
        {
            context.Response.ContentType = MediaTypes.OciIndex;
            await context.Response.WriteAsync("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"x\",\"size\":-5}]}");
        });
        using var client = new RegistryClient(TestRegistryOptions.Create());

        await Assert.ThrowsAsync<InvalidDataException>(() => client.GetReferrersAsync(registry.Host, Repository, Digest.Compute("image"u8)));
    }

    private static ManifestDocument Referrer(Digest subject, string artifactType, string note = "first")
        => ManifestDocument.From(new ImageManifest
        {
            ArtifactType = artifactType,
            Config = Descriptor.FromContent(MediaTypes.OciEmpty, "{}"u8),
            Layers = [],
            Subject = new Descriptor(MediaTypes.OciManifest, subject, 100),
            Annotations = new Dictionary<string, string> { ["note"] = note },
        });

    /// <summary>A registry stand-in with the referrers API: manifests in memory, referrers served from <see cref="Pages"/>.</summary>
    private sealed class ApiRegistry : IAsyncDisposable
    {
        private LoopbackHttpServer _server = null!;

        public ConcurrentDictionary<string, byte[]> Manifests { get; } = new(StringComparer.Ordinal);

        public List<List<ManifestDocument>> Pages { get; } = [];

        public ConcurrentQueue<string> Queries { get; } = new();

        public string Host => _server.Host;

        public static async Task<ApiRegistry> StartAsync()
        {
            var registry = new ApiRegistry();
            registry._server = await LoopbackHttpServer.StartAsync(registry.HandleAsync);
            return registry;
        }

        public ValueTask DisposeAsync() => _server.DisposeAsync();

        private async Task HandleAsync(HttpContext context)
        {
            string path = context.Request.Path.Value!;
            string manifests = $"/v2/{Repository}/manifests/";
            string referrers = $"/v2/{Repository}/referrers/";
            if (HttpMethods.IsPut(context.Request.Method) && path.StartsWith(manifests, StringComparison.Ordinal))
            {
                using var body = new MemoryStream();
                await context.Request.Body.CopyToAsync(body);
                var document = ManifestDocument.Parse(body.ToArray(), context.Request.ContentType);
                Manifests[path[manifests.Length..]] = body.ToArray();
                context.Response.Headers["Docker-Content-Digest"] = document.Digest.ToString();
                if (document.Manifest?.Subject is { } subject)
                {
                    context.Response.Headers["OCI-Subject"] = subject.Digest.ToString();
                }

                context.Response.StatusCode = StatusCodes.Status201Created;
                return;
            }

            if (HttpMethods.IsGet(context.Request.Method) && path.StartsWith(referrers, StringComparison.Ordinal))
            {
                Queries.Enqueue(context.Request.QueryString.Value ?? "");
                int page = int.TryParse(context.Request.Query["page"], out int p) ? p : 0;
                var listed = Pages.Count > page ? Pages[page].Select(ReferrersIndex.DescribeReferrer) : [];
                if (page + 1 < Pages.Count)
                {
                    context.Response.Headers["Link"] = $"<{path}?page={page + 1}>; rel=\"next\"";
                }

                context.Response.ContentType = MediaTypes.OciIndex;
                await context.Response.Body.WriteAsync(ReferrersIndex.Build(listed).Bytes);
                return;
            }

            context.Response.StatusCode = StatusCodes.Status404NotFound;
        }
    }
}
