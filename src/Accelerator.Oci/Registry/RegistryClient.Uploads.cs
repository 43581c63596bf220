using System.Buffers;
using System.Net;
using System.Net.Http.Headers;

namespace Accelerator.Oci.Registry;

public sealed partial class RegistryClient
{
    /// <summary>
    /// Pushes a blob unless the repository already has it (HEAD): in one PUT below
    /// <see cref="RegistryOptions.ChunkedUploadThreshold"/>, in chunks of <see cref="RegistryOptions.UploadChunkSize"/>
    /// above. Returns <see langword="false"/> when the upload was skipped because the blob exists.
    /// </summary>
    public async Task<bool> PushBlobAsync(string registry, string repository, Descriptor blob, Stream content, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(blob);
        ArgumentNullException.ThrowIfNull(content);
        if (await HeadBlobAsync(registry, repository, blob.Digest, cancellationToken).ConfigureAwait(false) is not null)
        {
            LogBlobExists(registry, repository, blob.Digest.ToString());
            return false;
        }

        if (blob.Size >= _options.ChunkedUploadThreshold)
        {
            await UploadBlobChunkedAsync(registry, repository, blob, content, _options.UploadChunkSize, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await UploadBlobMonolithicAsync(registry, repository, blob, content, cancellationToken).ConfigureAwait(false);
        }

        return true;
    }

    /// <summary>
    /// Uploads a blob in one request: POST to start an upload session, then PUT <c>?digest=</c> with the whole body.
    /// The PUT is retried when <paramref name="content"/> is seekable (it is rewound per attempt). The registry
    /// checks the digest and size.
    /// </summary>
    public async Task UploadBlobMonolithicAsync(string registry, string repository, Descriptor blob, Stream content, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(blob);
        ArgumentNullException.ThrowIfNull(content);
        Uri location = await StartUploadAsync(registry, repository, cancellationToken).ConfigureAwait(false);
        long start = content.CanSeek ? content.Position : 0;
        var request = new RegistryRequest(HttpMethod.Put, registry, WithDigest(location, blob.Digest), PushScope(repository))
        {
            Content = () =>
            {
                if (content.CanSeek)
                {
                    content.Position = start;
                }

                return OctetStream(new StreamContent(new NonDisposingStream(content), 81920), blob.Size);
            },
            Replayable = content.CanSeek,
            LongBody = true,
        };
        using var response = await SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.Created)
        {
            throw await ErrorAsync(response, request, $"Uploading blob {repository}@{blob.Digest} failed", cancellationToken).ConfigureAwait(false);
        }

        LogBlobUploaded(registry, repository, blob.Digest.ToString(), blob.Size, 1);
    }

    /// <summary>
    /// Uploads a blob in chunks: POST to start, one PATCH per <paramref name="chunkSize"/> bytes with
    /// <c>Content-Range</c>, then PUT <c>?digest=</c> to close. A PATCH is not retried (the registry may have taken part
    /// of it); a failed chunked upload fails the push.
    /// </summary>
    public async Task UploadBlobChunkedAsync(string registry, string repository, Descriptor blob, Stream content, int chunkSize, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(blob);
        ArgumentNullException.ThrowIfNull(content);
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkSize, 1);
        Uri location = await StartUploadAsync(registry, repository, cancellationToken).ConfigureAwait(false);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(chunkSize);
        long offset = 0;
        int chunks = 0;
        try
        {
            while (true)
            {
                int filled = 0;
                while (filled < chunkSize)
                {
                    int n = await content.ReadAsync(buffer.AsMemory(filled, chunkSize - filled), cancellationToken).ConfigureAwait(false);
                    if (n == 0)
                    {
                        break;
                    }

                    filled += n;
                }

                if (filled == 0)
                {
                    break;
                }

                if (blob.Size >= 0 && offset + filled > blob.Size)
                {
                    throw new DigestMismatchException(blob.Digest, $"more than the expected {blob.Size} bytes", "upload source");
                }

                long from = offset;
                int count = filled;
                var patch = new RegistryRequest(HttpMethod.Patch, registry, location, PushScope(repository))
                {
                    Content = () =>
                    {
                        var body = OctetStream(new ByteArrayContent(buffer, 0, count), count);
                        // distribution spec: Content-Range for a chunk is "<start>-<end>", inclusive, without a unit.
                        body.Headers.TryAddWithoutValidation("Content-Range", $"{from}-{from + count - 1}");
                        return body;
                    },
                    Replayable = false,
                    LongBody = true,
                };
                using (var response = await SendAsync(patch, cancellationToken).ConfigureAwait(false))
                {
                    if (response.StatusCode != HttpStatusCode.Accepted)
                    {
                        throw await ErrorAsync(response, patch, $"Uploading chunk {chunks} of blob {repository}@{blob.Digest} failed", cancellationToken).ConfigureAwait(false);
                    }

                    location = UploadLocation(response, location);
                }

                offset += count;
                chunks++;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        if (blob.Size >= 0 && offset != blob.Size)
        {
            throw new DigestMismatchException(blob.Digest, $"{offset} bytes where {blob.Size} were expected", "upload source");
        }

        var close = new RegistryRequest(HttpMethod.Put, registry, WithDigest(location, blob.Digest), PushScope(repository))
        {
            Content = () => OctetStream(new ByteArrayContent([]), 0),
            Replayable = false,
        };
        using var closed = await SendAsync(close, cancellationToken).ConfigureAwait(false);
        if (closed.StatusCode != HttpStatusCode.Created)
        {
            throw await ErrorAsync(closed, close, $"Completing the upload of blob {repository}@{blob.Digest} failed", cancellationToken).ConfigureAwait(false);
        }

        LogBlobUploaded(registry, repository, blob.Digest.ToString(), offset, chunks);
    }

    /// <summary>
    /// Asks the registry to mount a blob from another repository of the same registry (no bytes are sent).
    /// Returns <see langword="true"/> when mounted (201); <see langword="false"/> when the registry declined (202: it
    /// opened an upload instead, which is cancelled here) so the caller uploads.
    /// </summary>
    public async Task<bool> MountBlobAsync(string registry, string repository, Digest digest, string fromRepository, CancellationToken cancellationToken = default)
    {
        CheckRepository(repository);
        CheckRepository(fromRepository);
        var uri = ApiUri(registry, $"v2/{repository}/blobs/uploads/?mount={Uri.EscapeDataString(digest.ToString())}&from={Uri.EscapeDataString(fromRepository)}");
        var request = new RegistryRequest(HttpMethod.Post, registry, uri, PushScope(repository), PullScope(fromRepository))
        {
            Content = () => new ByteArrayContent([]),
        };
        using var response = await SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.Created)
        {
            LogBlobMounted(registry, fromRepository, repository, digest.ToString());
            return true;
        }

        if (response.StatusCode == HttpStatusCode.Accepted)
        {
            if (response.Headers.Location is not null)
            {
                await CancelUploadAsync(registry, repository, UploadLocation(response, uri), cancellationToken).ConfigureAwait(false);
            }

            return false;
        }

        throw await ErrorAsync(response, request, $"Mounting blob {digest} from {fromRepository} into {repository} failed", cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Starts an upload session (POST) and returns its location.</summary>
    private async Task<Uri> StartUploadAsync(string registry, string repository, CancellationToken cancellationToken)
    {
        CheckRepository(repository);
        var uri = ApiUri(registry, $"v2/{repository}/blobs/uploads/");
        var request = new RegistryRequest(HttpMethod.Post, registry, uri, PushScope(repository))
        {
            Content = () => new ByteArrayContent([]),
        };
        using var response = await SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.Accepted)
        {
            throw await ErrorAsync(response, request, $"Starting an upload to {repository} failed", cancellationToken).ConfigureAwait(false);
        }

        return UploadLocation(response, uri);
    }

    private async Task CancelUploadAsync(string registry, string repository, Uri location, CancellationToken cancellationToken)
    {
        try
        {
            using var _ = await SendAsync(new RegistryRequest(HttpMethod.Delete, registry, location, PushScope(repository)), cancellationToken).ConfigureAwait(false);
        }
        catch (RegistryException)
        {
            // Best effort: the registry purges abandoned uploads itself.
        }
    }

    /// <summary>The upload location of a response, which may be relative; it must stay on the registry's origin.</summary>
    private static Uri UploadLocation(HttpResponseMessage response, Uri requestUri)
    {
        var location = response.Headers.Location
            ?? throw new RegistryException($"{response.RequestMessage?.Method} {requestUri.GetLeftPart(UriPartial.Path)}: the registry sent no upload Location.");
        var absolute = location.IsAbsoluteUri ? location : new Uri(requestUri, location);
        if (absolute.Scheme != Uri.UriSchemeHttp && absolute.Scheme != Uri.UriSchemeHttps)
        {
            throw new RegistryException($"The registry sent an upload Location with scheme '{absolute.Scheme}'.");
        }

        return absolute;
    }

    private static Uri WithDigest(Uri location, Digest digest)
    {
        var builder = new UriBuilder(location);
        string query = builder.Query.TrimStart('?');
        builder.Query = (query.Length == 0 ? "" : query + "&") + "digest=" + Uri.EscapeDataString(digest.ToString());
        return builder.Uri;
    }

    private static HttpContent OctetStream(HttpContent content, long length)
    {
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        if (length >= 0)
        {
            content.Headers.ContentLength = length;
        }

        return content;
    }

    /// <summary>Keeps the caller's stream open when the request content is disposed.</summary>
    private sealed class NonDisposingStream(Stream inner) : Stream
    {
        public override bool CanRead => inner.CanRead;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

        public override int Read(Span<byte> buffer) => inner.Read(buffer);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => inner.ReadAsync(buffer, offset, count, cancellationToken);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
