using Accelerator.Oci.Layout;
using System.Globalization;
using System.Text.Json;
using Accelerator.Oci.Model;
using Microsoft.AspNetCore.Http;

namespace Accelerator.Hosting.Layout;

public sealed partial class OciLayoutRegistryServer
{
    private const string ApiVersionHeader = "Docker-Distribution-API-Version";
    private const string ContentDigestHeader = "Docker-Content-Digest";

    private async Task HandleAsync(HttpContext context)
    {
        Interlocked.Increment(ref _requests);
        var request = context.Request;
        var response = context.Response;
        response.Headers[ApiVersionHeader] = "registry/2.0";
        if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method))
        {
            response.Headers.Allow = "GET, HEAD";
            await WriteErrorAsync(context, StatusCodes.Status405MethodNotAllowed, "UNSUPPORTED", "this registry serves an OCI layout read-only").ConfigureAwait(false);
            return;
        }

        string path = request.Path.Value ?? "/";
        if (path is "/v2/" or "/v2")
        {
            await WriteJsonAsync(context, "{}"u8.ToArray()).ConfigureAwait(false);
            return;
        }

        // /v2/<name>/manifests/<reference>, /v2/<name>/blobs/<digest>, /v2/<name>/referrers/<digest>, /v2/<name>/tags/list
        string prefix = "/v2/" + _options.Repository + "/";
        if (!path.StartsWith("/v2/", StringComparison.Ordinal))
        {
            await WriteErrorAsync(context, StatusCodes.Status404NotFound, "NOT_FOUND", "not a registry API path").ConfigureAwait(false);
            return;
        }

        if (!path.StartsWith(prefix, StringComparison.Ordinal))
        {
            await WriteErrorAsync(context, StatusCodes.Status404NotFound, "NAME_UNKNOWN", $"repository name not known to registry (it serves {_options.Repository})").ConfigureAwait(false);
            return;
        }

        string rest = path[prefix.Length..];
        try
        {
            if (rest.StartsWith("manifests/", StringComparison.Ordinal))
            {
                await ServeManifestAsync(context, rest["manifests/".Length..]).ConfigureAwait(false);
            }
            else if (rest.StartsWith("blobs/", StringComparison.Ordinal))
            {
                await ServeBlobAsync(context, rest["blobs/".Length..]).ConfigureAwait(false);
            }
            else if (rest.StartsWith("referrers/", StringComparison.Ordinal))
            {
                await ServeReferrersAsync(context, rest["referrers/".Length..]).ConfigureAwait(false);
            }
            else if (rest == "tags/list")
            {
                await ServeTagsAsync(context).ConfigureAwait(false);
            }
            else
            {
                await WriteErrorAsync(context, StatusCodes.Status404NotFound, "NOT_FOUND", "not a registry API path").ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away.
        }
    }

    private async Task ServeManifestAsync(HttpContext context, string reference)
    {
        ManifestDocument? document = null;
        try
        {
            if (reference.Contains(':'))
            {
                if (Digest.TryParse(reference, out var digest))
                {
                    document = await _layout.GetManifestAsync(digest, context.RequestAborted).ConfigureAwait(false);
                }
            }
            else if (IsTag(reference))
            {
                var descriptor = await _layout.ResolveTagAsync(reference, context.RequestAborted).ConfigureAwait(false);
                document = await _layout.GetManifestAsync(descriptor.Digest, context.RequestAborted).ConfigureAwait(false);
            }
        }
        catch (BlobNotFoundException)
        {
            document = null;
        }
        catch (DigestMismatchException ex)
        {
            LogCorruptBlob(reference, ex.Message);
            await WriteErrorAsync(context, StatusCodes.Status500InternalServerError, "UNKNOWN", "the manifest in the layout does not match its digest").ConfigureAwait(false);
            return;
        }

        if (document is null)
        {
            await WriteErrorAsync(context, StatusCodes.Status404NotFound, "MANIFEST_UNKNOWN", $"manifest unknown: {Truncate(reference)}").ConfigureAwait(false);
            return;
        }

        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = document.MediaType;
        response.ContentLength = document.Bytes.Length;
        response.Headers[ContentDigestHeader] = document.Digest.ToString();
        if (HttpMethods.IsGet(context.Request.Method))
        {
            await response.Body.WriteAsync(document.Bytes, context.RequestAborted).ConfigureAwait(false);
            CountManifest(document.Bytes.Length);
        }
    }

    private async Task ServeBlobAsync(HttpContext context, string reference)
    {
        var response = context.Response;
        if (!Digest.TryParse(reference, out var digest))
        {
            await WriteErrorAsync(context, StatusCodes.Status400BadRequest, "DIGEST_INVALID", $"not a digest: {Truncate(reference)}").ConfigureAwait(false);
            return;
        }

        string file = _layout.GetBlobPath(digest);
        var info = new FileInfo(file);
        if (!info.Exists)
        {
            await WriteErrorAsync(context, StatusCodes.Status404NotFound, "BLOB_UNKNOWN", $"blob unknown: {digest}").ConfigureAwait(false);
            return;
        }

        if (!await IsVerifiedAsync(digest, file, context.RequestAborted).ConfigureAwait(false))
        {
            await WriteErrorAsync(context, StatusCodes.Status500InternalServerError, "UNKNOWN", $"the blob {digest} in the layout does not match its digest").ConfigureAwait(false);
            return;
        }

        long length = info.Length;
        var range = HttpByteRange.Parse(context.Request.Headers.Range.ToString(), length);
        response.Headers[ContentDigestHeader] = digest.ToString();
        response.Headers.AcceptRanges = "bytes";
        response.ContentType = "application/octet-stream";
        if (range.Kind == HttpByteRangeKind.Unsatisfiable)
        {
            response.StatusCode = StatusCodes.Status416RangeNotSatisfiable;
            response.Headers.ContentRange = $"bytes */{length.ToString(CultureInfo.InvariantCulture)}";
            response.ContentLength = 0;
            return;
        }

        long start = 0;
        long count = length;
        if (range.Kind == HttpByteRangeKind.Satisfiable)
        {
            start = range.Start;
            count = range.Length;
            response.StatusCode = StatusCodes.Status206PartialContent;
            response.Headers.ContentRange = string.Create(CultureInfo.InvariantCulture, $"bytes {start}-{start + count - 1}/{length}");
        }
        else
        {
            response.StatusCode = StatusCodes.Status200OK;
        }

        response.ContentLength = count;
        if (HttpMethods.IsGet(context.Request.Method) && count > 0)
        {
            await CopyRangeAsync(file, start, count, response.Body, CountBlob, context.RequestAborted).ConfigureAwait(false);
        }
    }

    // distribution-spec 1.1, "Listing Referrers": an image index of the referrers' descriptors (empty when there are
    // none, never 404 for a valid digest), filtered by the artifactType query parameter, which OCI-Filters-Applied names.
    private async Task ServeReferrersAsync(HttpContext context, string reference)
    {
        if (!Digest.TryParse(reference, out var subject))
        {
            await WriteErrorAsync(context, StatusCodes.Status400BadRequest, "DIGEST_INVALID", $"not a digest: {Truncate(reference)}").ConfigureAwait(false);
            return;
        }

        string? artifactType = context.Request.Query["artifactType"] is { Count: > 0 } values ? values[0] : null;
        IReadOnlyList<Descriptor> referrers;
        try
        {
            referrers = await _layout.GetReferrersAsync(ImageReference.Parse("oci:" + _layout.Root), subject, artifactType, context.RequestAborted).ConfigureAwait(false) ?? [];
        }
        catch (Exception ex) when (ex is DigestMismatchException or FormatException or InvalidDataException or NotSupportedException)
        {
            LogCorruptBlob(subject.ToString(), ex.Message);
            await WriteErrorAsync(context, StatusCodes.Status500InternalServerError, "UNKNOWN", "the layout's referrers could not be read").ConfigureAwait(false);
            return;
        }

        var document = Accelerator.Oci.Referrers.ReferrersIndex.Build(referrers);
        if (artifactType is not null)
        {
            context.Response.Headers["OCI-Filters-Applied"] = "artifactType";
        }

        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = MediaTypes.OciIndex;
        context.Response.ContentLength = document.Bytes.Length;
        if (HttpMethods.IsGet(context.Request.Method))
        {
            await context.Response.Body.WriteAsync(document.Bytes, context.RequestAborted).ConfigureAwait(false);
            CountManifest(document.Bytes.Length);
        }
    }

    private async Task ServeTagsAsync(HttpContext context)
    {
        var tags = await _layout.ListTagsAsync(context.RequestAborted).ConfigureAwait(false);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("name", _options.Repository);
            json.WriteStartArray("tags");
            foreach (string tag in tags)
            {
                json.WriteStringValue(tag);
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        await WriteJsonAsync(context, buffer.ToArray()).ConfigureAwait(false);
    }

    private static async Task WriteJsonAsync(HttpContext context, byte[] body)
    {
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = body.Length;
        if (HttpMethods.IsGet(context.Request.Method))
        {
            await context.Response.Body.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
        }
    }

    // distribution-spec, "Error Codes": {"errors":[{"code":…,"message":…}]}
    private static async Task WriteErrorAsync(HttpContext context, int status, string code, string message)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteStartArray("errors");
            json.WriteStartObject();
            json.WriteString("code", code);
            json.WriteString("message", message);
            json.WriteEndObject();
            json.WriteEndArray();
            json.WriteEndObject();
        }

        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = buffer.Length;
        if (!HttpMethods.IsHead(context.Request.Method))
        {
            await context.Response.Body.WriteAsync(buffer.ToArray(), context.RequestAborted).ConfigureAwait(false);
        }
    }

    private static string Truncate(string value) => value.Length > 80 ? value[..80] + "…" : value;
}
