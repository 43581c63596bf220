using System.Net;
using System.Text.Json;

namespace Accelerator.Oci.Registry;

public sealed partial class RegistryClient
{
    // One page of a tag list: a name and up to a few thousand tags.
    private const int MaxTagPageBytes = 4 * 1024 * 1024;

    /// <summary>
    /// Lists a repository's tags, following <c>Link: &lt;…&gt;; rel="next"</c> pagination on the registry's origin.
    /// <paramref name="pageSize"/> (the <c>n</c> parameter) is optional. Refuses listings over
    /// <see cref="RegistryOptions.MaxTags"/>. A repository the registry does not know throws <see cref="BlobNotFoundException"/>.
    /// </summary>
    public async Task<IReadOnlyList<string>> ListTagsAsync(string registry, string repository, int? pageSize = null, CancellationToken cancellationToken = default)
    {
        CheckRepository(repository);
        if (pageSize is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(pageSize), "The page size must be positive.");
        }

        var tags = new List<string>();
        Uri base0 = BaseUri(registry);
        Uri? next = ApiUri(registry, $"v2/{repository}/tags/list{(pageSize is { } n ? $"?n={n}" : "")}");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (next is not null)
        {
            if (!seen.Add(next.PathAndQuery))
            {
                throw new RegistryException($"Listing tags of {registry}/{repository}: the registry's pagination loops.");
            }

            var request = new RegistryRequest(HttpMethod.Get, registry, next, PullScope(repository));
            using var response = await SendAsync(request, cancellationToken).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                throw new BlobNotFoundException($"repository {repository}", registry);
            }

            if (!response.IsSuccessStatusCode)
            {
                throw await ErrorAsync(response, request, $"Listing tags of {repository} failed", cancellationToken).ConfigureAwait(false);
            }

            byte[] body = await HttpBodies.ReadBoundedAsync(response.Content, MaxTagPageBytes, truncate: false, cancellationToken, "tag list").ConfigureAwait(false);
            foreach (string tag in ParseTagList(body))
            {
                if (tags.Count >= _options.MaxTags)
                {
                    throw new ContentTooLargeException($"{registry}/{repository} has more than {_options.MaxTags} tags.");
                }

                tags.Add(tag);
            }

            next = NextPage(response, request.Uri, base0, $"Listing tags of {registry}/{repository}");
        }

        return tags;
    }

    /// <summary>Reads <c>{"name": …, "tags": [...]}</c>; <c>tags</c> may be null or missing (no tags).</summary>
    internal static IReadOnlyList<string> ParseTagList(ReadOnlySpan<byte> body)
    {
        try
        {
            var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 8 });
            using var json = JsonDocument.ParseValue(ref reader);
            if (json.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new RegistryException("The tag list is not a JSON object.");
            }

            if (!json.RootElement.TryGetProperty("tags", out var tags) || tags.ValueKind == JsonValueKind.Null)
            {
                return [];
            }

            if (tags.ValueKind != JsonValueKind.Array)
            {
                throw new RegistryException("The tag list's 'tags' is not an array.");
            }

            var result = new List<string>(tags.GetArrayLength());
            foreach (var tag in tags.EnumerateArray())
            {
                if (tag.ValueKind != JsonValueKind.String || tag.GetString() is not { } text || !TagPattern().IsMatch(text))
                {
                    throw new RegistryException("The tag list holds an invalid tag.");
                }

                result.Add(text);
            }

            return result;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            throw new RegistryException($"The tag list is not valid JSON: {ex.Message}", inner: ex);
        }
    }
}
