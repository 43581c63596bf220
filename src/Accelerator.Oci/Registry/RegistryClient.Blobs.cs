using System.Net;

namespace Accelerator.Oci.Registry;

public sealed partial class RegistryClient
{
    /// <summary>
    /// Opens a whole blob as a <see cref="VerifyingStream"/>: it yields at most <paramref name="size"/> bytes (when known,
    /// else -1) and throws <see cref="DigestMismatchException"/> from the read that reaches the end if the bytes are wrong.
    /// Throws <see cref="BlobNotFoundException"/> when the registry does not have the blob.
    /// </summary>
    public async Task<Stream> GetBlobAsync(string registry, string repository, Digest digest, long size = -1, CancellationToken cancellationToken = default)
    {
        var request = BlobRequest(HttpMethod.Get, registry, repository, digest);
        var response = await SendAsync(request, cancellationToken).ConfigureAwait(false);
        await EnsureBlobResponseAsync(response, request, repository, digest, cancellationToken).ConfigureAwait(false);
        if (size >= 0 && response.Content.Headers.ContentLength is long length && length != size)
        {
            response.Dispose();
            throw new DigestMismatchException(digest, $"{length} bytes announced where {size} were expected", $"{registry}/{repository}");
        }

        var body = await ResponseStream.OpenAsync(response, long.MaxValue, cancellationToken).ConfigureAwait(false);
        return new VerifyingStream(body, digest, size, $"{registry}/{repository}");
    }

    /// <summary>
    /// Opens <paramref name="length"/> bytes of a blob from <paramref name="offset"/> with a <c>Range</c> request. The
    /// stream ends early only at the blob's end (an offset at or past the end gives an empty stream). A registry that
    /// ignores <c>Range</c> and answers 200 with the whole blob is handled by skipping to the offset in the body: correct,
    /// but it costs the bytes before the offset. A 206 for a different start is refused. Ranges are not
    /// digest-verified (a part of a blob has no digest of its own); callers check their own chunk digests.
    /// </summary>
    public async Task<Stream> GetBlobRangeAsync(string registry, string repository, Digest digest, long offset, long length, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (length == 0)
        {
            return Stream.Null;
        }

        var request = new RegistryRequest(HttpMethod.Get, registry, BlobUri(registry, repository, digest), PullScope(repository))
        {
            Range = (offset, checked(offset + length - 1)),
            FollowRedirects = true,
        };
        var response = await SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
        {
            response.Dispose();
            return Stream.Null;
        }

        await EnsureBlobResponseAsync(response, request, repository, digest, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.PartialContent)
        {
            if (response.Content.Headers.ContentRange is { } range && range.From is long from && from != offset)
            {
                response.Dispose();
                throw new RegistryException($"{request.Describe()}: asked for bytes from {offset}, got a range from {from}.");
            }

            return await ResponseStream.OpenAsync(response, length, cancellationToken).ConfigureAwait(false);
        }

        LogRangeIgnored(registry, repository, offset);
        var whole = await ResponseStream.OpenAsync(response, long.MaxValue, cancellationToken).ConfigureAwait(false);
        try
        {
            long skipped = await whole.SkipAsync(offset, cancellationToken).ConfigureAwait(false);
            if (skipped < offset)
            {
                await whole.DisposeAsync().ConfigureAwait(false);
                return Stream.Null;
            }
        }
        catch
        {
            await whole.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return new ResponseStream(response, whole, length);
    }

    /// <summary>The size of a blob (HEAD), or <see langword="null"/> when the registry does not have it.</summary>
    public async Task<long?> HeadBlobAsync(string registry, string repository, Digest digest, CancellationToken cancellationToken = default)
    {
        var request = BlobRequest(HttpMethod.Head, registry, repository, digest);
        using var response = await SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        if (!response.IsSuccessStatusCode)
        {
            throw await ErrorAsync(response, request, $"Checking blob {repository}@{digest} failed", cancellationToken).ConfigureAwait(false);
        }

        return response.Content.Headers.ContentLength
            ?? throw new RegistryException($"{request.Describe()}: the registry did not say the blob's size.");
    }

    /// <summary>
    /// Fetches blobs in parallel (<see cref="RegistryOptions.MaxParallelDownloads"/> at a time), handing each to
    /// <paramref name="consume"/> as a verifying stream. After <paramref name="consume"/> returns, the rest of the
    /// stream is read so the digest is always checked: a consumer that commits only after this method (or after
    /// reading its stream to the end without an exception) never commits bad bytes. The first failure cancels the rest.
    /// </summary>
    public async Task DownloadBlobsAsync(string registry, string repository, IEnumerable<Descriptor> blobs, Func<Descriptor, Stream, CancellationToken, ValueTask> consume, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(blobs);
        ArgumentNullException.ThrowIfNull(consume);
        var distinct = blobs.DistinctBy(b => b.Digest).ToList();
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = _options.MaxParallelDownloads, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(distinct, parallel, async (blob, token) =>
        {
            await using var stream = await GetBlobAsync(registry, repository, blob.Digest, blob.Size, token).ConfigureAwait(false);
            await consume(blob, stream, token).ConfigureAwait(false);
            await stream.CopyToAsync(Stream.Null, token).ConfigureAwait(false);
        }).ConfigureAwait(false);
    }

    /// <summary>
    /// Fetches blobs in parallel into <paramref name="directory"/> as <c>ALGORITHM/ENCODED</c> (the OCI layout's
    /// <c>blobs/</c> shape). Each is written to a temporary file and renamed only once verified; blobs already present
    /// are kept. Returns the path of each blob by digest.
    /// </summary>
    public async Task<IReadOnlyDictionary<Digest, string>> DownloadBlobsToDirectoryAsync(string registry, string repository, IEnumerable<Descriptor> blobs, string directory, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(blobs);
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var list = blobs.DistinctBy(b => b.Digest).ToList();
        var paths = list.ToDictionary(b => b.Digest, b => Path.Combine(directory, b.Digest.Algorithm, b.Digest.Encoded));
        var missing = list.Where(b => !File.Exists(paths[b.Digest])).ToList();
        await DownloadBlobsAsync(registry, repository, missing, async (blob, stream, token) =>
        {
            string target = paths[blob.Digest];
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            string temp = $"{target}.{Guid.NewGuid():N}.partial";
            try
            {
                await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 81920, FileOptions.Asynchronous))
                {
                    // CopyToAsync reads to the end, so the verifying stream has checked the digest when it returns.
                    await stream.CopyToAsync(file, token).ConfigureAwait(false);
                }

                File.Move(temp, target, overwrite: true);
            }
            finally
            {
                File.Delete(temp);
            }
        }, cancellationToken).ConfigureAwait(false);
        return paths;
    }

    // Blob reads are the one place the distribution spec lets a registry redirect (to storage or a CDN); the bytes are
    // checked against the digest, or, for a range, by the caller's own chunk digests.
    private RegistryRequest BlobRequest(HttpMethod method, string registry, string repository, Digest digest)
        => new(method, registry, BlobUri(registry, repository, digest), PullScope(repository)) { FollowRedirects = true };

    private Uri BlobUri(string registry, string repository, Digest digest)
    {
        ArgumentException.ThrowIfNullOrEmpty(registry);
        CheckRepository(repository);
        if (digest.IsEmpty)
        {
            throw new ArgumentException("The digest is empty.", nameof(digest));
        }

        return ApiUri(registry, $"v2/{repository}/blobs/{digest}");
    }

    private async Task EnsureBlobResponseAsync(HttpResponseMessage response, RegistryRequest request, string repository, Digest digest, CancellationToken cancellationToken)
    {
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            response.Dispose();
            throw new BlobNotFoundException($"blob {repository}@{digest}", request.Registry);
        }

        if (!response.IsSuccessStatusCode)
        {
            throw await ErrorAsync(response, request, $"Fetching blob {repository}@{digest} failed", cancellationToken).ConfigureAwait(false);
        }
    }
}
