using System.Text.Json;

namespace Accelerator.Oci.Registry;

public sealed partial class RegistryClient
{
    /// <summary>The most repositories <see cref="ListRepositoriesAsync"/> returns unless told otherwise.</summary>
    public const int DefaultMaxRepositories = 100_000;

    // One page of a catalog: up to a few thousand names of at most 255 characters.
    private const int MaxCatalogPageBytes = 4 * 1024 * 1024;

    /// <summary>
    /// Lists the repositories of a registry (<c>GET /v2/_catalog</c>), following <c>Link: &lt;…&gt;; rel="next"</c>
    /// pagination on the registry's origin. <paramref name="pageSize"/> (the <c>n</c> parameter) is optional. Refuses
    /// listings over <paramref name="maxRepositories"/>, pages over 4 MiB, invalid names, and pagination that loops or
    /// leaves the origin. Registries that do not offer the catalog (Docker Hub, many cloud registries) answer with an
    /// error, thrown as <see cref="RegistryException"/>.
    /// </summary>
    public async Task<IReadOnlyList<string>> ListRepositoriesAsync(string registry, int? pageSize = null, int maxRepositories = DefaultMaxRepositories, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(registry);
        if (pageSize is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(pageSize), "The page size must be positive.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(maxRepositories, 1);
        var repositories = new List<string>();
        Uri origin = BaseUri(registry);
        Uri? next = ApiUri(registry, $"v2/_catalog{(pageSize is { } n ? $"?n={n}" : "")}");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (next is not null)
        {
            if (!seen.Add(next.PathAndQuery))
            {
                throw new RegistryException($"Listing the repositories of {registry}: the registry's pagination loops.");
            }

            // distribution: the catalog needs the registry:catalog:* scope.
            var request = new RegistryRequest(HttpMethod.Get, registry, next, "registry:catalog:*");
            using var response = await SendAsync(request, cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw await ErrorAsync(response, request, $"Listing the repositories of {registry} failed", cancellationToken).ConfigureAwait(false);
            }

            byte[] body = await HttpBodies.ReadBoundedAsync(response.Content, MaxCatalogPageBytes, truncate: false, cancellationToken, "catalog").ConfigureAwait(false);
            foreach (string repository in ParseCatalog(body))
            {
                if (repositories.Count >= maxRepositories)
                {
                    throw new ContentTooLargeException($"{registry} has more than {maxRepositories} repositories.");
                }

                repositories.Add(repository);
            }

            next = NextPage(response, request.Uri, origin, $"Listing the repositories of {registry}");
        }

        return repositories;
    }

    /// <summary>Reads <c>{"repositories": [...]}</c>; <c>repositories</c> may be null or missing (an empty registry).</summary>
    internal static IReadOnlyList<string> ParseCatalog(ReadOnlySpan<byte> body)
    {
        try
        {
            var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 8 });
            using var json = JsonDocument.ParseValue(ref reader);
            if (json.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new RegistryException("The catalog is not a JSON object.");
            }

            if (!json.RootElement.TryGetProperty("repositories", out var names) || names.ValueKind == JsonValueKind.Null)
            {
                return [];
            }

            if (names.ValueKind != JsonValueKind.Array)
            {
                throw new RegistryException("The catalog's 'repositories' is not an array.");
            }

            var result = new List<string>(names.GetArrayLength());
            foreach (var name in names.EnumerateArray())
            {
                if (name.ValueKind != JsonValueKind.String || name.GetString() is not { } text || text.Length > 255 || !RepositoryPattern().IsMatch(text))
                {
                    throw new RegistryException("The catalog holds an invalid repository name.");
                }

                result.Add(text);
            }

            return result;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            throw new RegistryException($"The catalog is not valid JSON: {ex.Message}", inner: ex);
        }
    }

    // The next page a paged listing (catalog, tags, referrers) names in its Link header, resolved against the request and
    // kept on the registry's origin: a page must not send the client, with its credentials, to another host.
    private static Uri? NextPage(HttpResponseMessage response, Uri requestUri, Uri origin, string listing)
    {
        if (!response.Headers.NonValidated.TryGetValues("Link", out var links))
        {
            return null;
        }

        foreach (string link in links)
        {
            if (LinkHeader.TryGetNext(link, out string? target))
            {
                var candidate = new Uri(requestUri, target);
                return SameOrigin(candidate, origin)
                    ? candidate
                    : throw new RegistryException($"{listing}: the next page is on another origin ({candidate.Authority}).");
            }
        }

        return null;
    }
}
