using System.Net;
using Accelerator.Oci.Referrers;

namespace Accelerator.Oci.Registry;

public sealed partial class RegistryClient
{
    // Pages of one referrers listing followed at most (each bounded by ReferrersIndex.MaxBytes).
    private const int MaxReferrerPages = 16;

    /// <summary>
    /// Lists the referrers of <paramref name="subject"/> with the referrers API (<c>GET /v2/&lt;name&gt;/referrers/&lt;digest&gt;</c>,
    /// OCI distribution-spec 1.1), asking for <paramref name="artifactType"/> only when given and filtering again when
    /// the registry did not say <c>OCI-Filters-Applied: artifactType</c>. Follows <c>Link</c> pagination on the
    /// registry's origin. Returns <see langword="null"/> when the registry has no referrers API (404, or 405).
    /// </summary>
    /// <exception cref="InvalidDataException">An answer is malformed or the listing exceeds <see cref="ReferrersIndex"/>'s bounds.</exception>
    public async Task<IReadOnlyList<Descriptor>?> GetReferrersAsync(string registry, string repository, Digest subject, string? artifactType = null, CancellationToken cancellationToken = default)
    {
        CheckRepository(repository);
        var referrers = new List<Descriptor>();
        Uri origin = BaseUri(registry);
        string query = artifactType is null ? "" : "?artifactType=" + Uri.EscapeDataString(artifactType);
        Uri? next = ApiUri(registry, $"v2/{repository}/referrers/{subject}{query}");
        for (int page = 0; next is not null; page++)
        {
            if (page >= MaxReferrerPages)
            {
                throw new InvalidDataException($"The referrers of {repository}@{subject} at {registry} span more than {MaxReferrerPages} pages.");
            }

            var request = new RegistryRequest(HttpMethod.Get, registry, next, PullScope(repository)) { Accept = [Model.MediaTypes.OciIndex] };
            using var response = await SendAsync(request, cancellationToken).ConfigureAwait(false);
            if (page == 0 && response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.MethodNotAllowed)
            {
                return null;
            }

            if (!response.IsSuccessStatusCode)
            {
                throw await ErrorAsync(response, request, $"Listing the referrers of {repository}@{subject} failed", cancellationToken).ConfigureAwait(false);
            }

            byte[] body = await HttpBodies.ReadBoundedAsync(response.Content, ReferrersIndex.MaxBytes, truncate: false, cancellationToken, "referrers answer").ConfigureAwait(false);
            bool filtered = response.Headers.TryGetValues("OCI-Filters-Applied", out var applied)
                && applied.SelectMany(v => v.Split(',')).Any(v => v.Trim() == "artifactType");
            foreach (var referrer in ReferrersIndex.Parse(body, filtered ? null : artifactType))
            {
                if (referrers.Count >= ReferrersIndex.MaxReferrers)
                {
                    throw new InvalidDataException($"{repository}@{subject} at {registry} has more than {ReferrersIndex.MaxReferrers} referrers.");
                }

                if (artifactType is null || referrer.ArtifactType == artifactType)
                {
                    referrers.Add(referrer);
                }
            }

            next = NextPage(response, request.Uri, origin, $"Listing the referrers of {repository}@{subject}");
        }

        return referrers;
    }
}
