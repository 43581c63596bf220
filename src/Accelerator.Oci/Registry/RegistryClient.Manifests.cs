using System.Net;
using System.Net.Http.Headers;
using System.Text.RegularExpressions;
using Accelerator.Oci.Model;

namespace Accelerator.Oci.Registry;

public sealed partial class RegistryClient
{
    /// <summary>
    /// Gets a manifest or index by tag or digest. The bytes are read bounded (<see cref="RegistryOptions.MaxManifestBytes"/>)
    /// and checked: against the digest when one was asked for, else against <c>Docker-Content-Digest</c> when sent.
    /// Throws <see cref="BlobNotFoundException"/> when the registry does not have it.
    /// </summary>
    public async Task<ManifestDocument> GetManifestAsync(string registry, string repository, string reference, CancellationToken cancellationToken = default)
    {
        var request = ManifestRequest(HttpMethod.Get, registry, repository, reference, push: false);
        var response = await SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            response.Dispose();
            throw new BlobNotFoundException($"manifest {repository}:{reference}", registry);
        }

        if (!response.IsSuccessStatusCode)
        {
            throw await ErrorAsync(response, request, $"Fetching manifest {repository}:{reference} failed", cancellationToken).ConfigureAwait(false);
        }

        using (response)
        {
            byte[] bytes = await HttpBodies.ReadBoundedAsync(response.Content, _options.MaxManifestBytes, truncate: false, cancellationToken, $"manifest {repository}:{reference}").ConfigureAwait(false);
            Digest? expected = Digest.TryParse(reference, out var pinned) ? pinned : ContentDigest(response);
            try
            {
                return ManifestDocument.Parse(bytes, response.Content.Headers.ContentType?.MediaType, expected);
            }
            catch (InvalidOperationException ex)
            {
                // System.Text.Json reports strings that are not valid UTF-8 this way.
                throw new FormatException($"Invalid manifest {repository}:{reference}: {ex.Message}", ex);
            }
        }
    }

    /// <summary>
    /// Asks for a manifest's descriptor without its body (HEAD): media type, digest (<c>Docker-Content-Digest</c>) and
    /// size. Returns <see langword="null"/> when the registry does not have it. When the registry sends no digest, the
    /// manifest is fetched to compute it.
    /// </summary>
    public async Task<Descriptor?> HeadManifestAsync(string registry, string repository, string reference, CancellationToken cancellationToken = default)
    {
        var request = ManifestRequest(HttpMethod.Head, registry, repository, reference, push: false);
        using var response = await SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        if (!response.IsSuccessStatusCode)
        {
            throw await ErrorAsync(response, request, $"Checking manifest {repository}:{reference} failed", cancellationToken).ConfigureAwait(false);
        }

        Digest? digest = ContentDigest(response);
        long? size = response.Content.Headers.ContentLength;
        string? mediaType = response.Content.Headers.ContentType?.MediaType;
        if (Digest.TryParse(reference, out var pinned))
        {
            if (digest is { } sent && sent != pinned)
            {
                throw new DigestMismatchException(pinned, sent.ToString(), $"{registry} (HEAD manifest)");
            }

            digest = pinned;
        }

        if (digest is null || size is null || mediaType is null || size > _options.MaxManifestBytes)
        {
            var document = await GetManifestAsync(registry, repository, reference, cancellationToken).ConfigureAwait(false);
            return document.Descriptor;
        }

        return new Descriptor(mediaType, digest.Value, size.Value);
    }

    /// <summary>
    /// Puts a manifest under its digest, or under <paramref name="tag"/> when given (which stores it by digest too),
    /// with its media type as Content-Type. Checks the digest the registry reports. Returns the manifest's descriptor.
    /// </summary>
    public async Task<Descriptor> PutManifestAsync(string registry, string repository, ManifestDocument manifest, string? tag = null, CancellationToken cancellationToken = default)
        => (await PutManifestCoreAsync(registry, repository, manifest, tag, cancellationToken).ConfigureAwait(false)).Descriptor;

    /// <summary>
    /// Puts a manifest that has a <c>subject</c> (a referrer) under its digest and returns whether the registry indexed
    /// it as a referrer: its answer carries <c>OCI-Subject</c> naming the subject's digest (OCI distribution-spec 1.1,
    /// "Pushing Manifests with Subject"). A registry without the referrers API ignores the subject; the caller then
    /// maintains the referrers tag (<see cref="Referrers.ReferrersTagScheme"/>).
    /// </summary>
    public async Task<bool> PutReferrerAsync(string registry, string repository, ManifestDocument referrer, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(referrer);
        var subject = referrer.Manifest?.Subject ?? referrer.Index?.Subject
            ?? throw new ArgumentException("A referrer has a subject.", nameof(referrer));
        var (_, answered) = await PutManifestCoreAsync(registry, repository, referrer, null, cancellationToken).ConfigureAwait(false);
        return answered == subject.Digest;
    }

    private async Task<(Descriptor Descriptor, Digest? Subject)> PutManifestCoreAsync(string registry, string repository, ManifestDocument manifest, string? tag, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        if (manifest.Bytes.Length > _options.MaxManifestBytes)
        {
            throw new ContentTooLargeException($"Manifest {manifest.Digest} is {manifest.Bytes.Length} bytes, over the {_options.MaxManifestBytes}-byte limit.");
        }

        string reference = tag ?? manifest.Digest.ToString();
        var bytes = manifest.Bytes;
        var request = ManifestRequest(HttpMethod.Put, registry, repository, reference, push: true, content: () =>
        {
            var content = new ReadOnlyMemoryContent(bytes);
            content.Headers.ContentType = new MediaTypeHeaderValue(manifest.MediaType);
            return content;
        });
        using var response = await SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.Created && !response.IsSuccessStatusCode)
        {
            throw await ErrorAsync(response, request, $"Pushing manifest {repository}:{reference} failed", cancellationToken).ConfigureAwait(false);
        }

        if (ContentDigest(response) is { } stored && stored != manifest.Digest)
        {
            throw new DigestMismatchException(manifest.Digest, stored.ToString(), $"{registry} (stored manifest)");
        }

        LogManifestPushed(registry, repository, reference, manifest.Digest.ToString());
        Digest? subject = response.Headers.TryGetValues("OCI-Subject", out var subjects) && Digest.TryParse(subjects.FirstOrDefault()?.Trim(), out var named)
            ? named
            : null;
        return (manifest.Descriptor, subject);
    }

    /// <summary>Deletes a manifest by digest (the registry must allow deletes).</summary>
    public async Task DeleteManifestAsync(string registry, string repository, Digest digest, CancellationToken cancellationToken = default)
    {
        var request = ManifestRequest(HttpMethod.Delete, registry, repository, digest.ToString(), push: true);
        using var response = await SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            throw new BlobNotFoundException($"manifest {repository}@{digest}", registry);
        }

        if (!response.IsSuccessStatusCode)
        {
            throw await ErrorAsync(response, request, $"Deleting manifest {repository}@{digest} failed", cancellationToken).ConfigureAwait(false);
        }
    }

    private RegistryRequest ManifestRequest(HttpMethod method, string registry, string repository, string reference, bool push, Func<HttpContent>? content = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(registry);
        CheckRepository(repository);
        if (!Digest.TryParse(reference, out _) && !TagPattern().IsMatch(reference))
        {
            throw new ArgumentException($"'{reference}' is neither a tag nor a digest.", nameof(reference));
        }

        return new RegistryRequest(method, registry, ApiUri(registry, $"v2/{repository}/manifests/{reference}"), push ? PushScope(repository) : PullScope(repository))
        {
            Accept = MediaTypes.ManifestAccept,
            Content = content,
        };
    }

    private static Digest? ContentDigest(HttpResponseMessage response)
        => response.Headers.TryGetValues("Docker-Content-Digest", out var values) && Digest.TryParse(values.FirstOrDefault()?.Trim(), out var digest)
            ? digest
            : null;

    internal static string PullScope(string repository) => $"repository:{repository}:pull";

    internal static string PushScope(string repository) => $"repository:{repository}:pull,push";

    /// <summary>Checks a repository name against the distribution grammar (lower-case path components, at most 255 characters).</summary>
    /// <exception cref="ArgumentException"><paramref name="repository"/> is not a valid repository name.</exception>
    public static void CheckRepository(string repository)
    {
        if (string.IsNullOrEmpty(repository) || repository.Length > 255 || !RepositoryPattern().IsMatch(repository))
        {
            throw new ArgumentException($"'{(repository?.Length > 80 ? repository[..80] : repository)}' is not a valid repository name.", nameof(repository));
        }
    }

    // distribution/reference grammar: tag := [\w][\w.-]{0,127}
    [GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")]
    private static partial Regex TagPattern();

    // path-component := [a-z0-9]+ (separator [a-z0-9]+)*, separator := [_.] | __ | [-]+
    [GeneratedRegex(@"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")]
    private static partial Regex RepositoryPattern();
}
