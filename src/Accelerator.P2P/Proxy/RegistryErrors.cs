using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Accelerator.P2P.Proxy;

/// <summary>
/// Writes errors in the registry's JSON error format (distribution spec, "Error Codes"):
/// <c>{"errors":[{"code":"BLOB_UNKNOWN","message":"...","detail":null}]}</c>, so clients show them as they show a
/// registry's own.
/// </summary>
internal static class RegistryErrors
{
    public const string BlobUnknown = "BLOB_UNKNOWN";
    public const string ManifestUnknown = "MANIFEST_UNKNOWN";
    public const string ManifestInvalid = "MANIFEST_INVALID";
    public const string NameInvalid = "NAME_INVALID";
    public const string NameUnknown = "NAME_UNKNOWN";
    public const string Unsupported = "UNSUPPORTED";
    public const string Unavailable = "UNAVAILABLE";
    public const string SizeInvalid = "SIZE_INVALID";
    public const string DigestInvalid = "DIGEST_INVALID";
    public const string RangeInvalid = "RANGE_INVALID";
    public const string Unauthorized = "UNAUTHORIZED";
    public const string Denied = "DENIED";
    public const string TooManyRequests = "TOOMANYREQUESTS";

    /// <summary>Writes one error with <paramref name="status"/>; nothing is written once the response has started.</summary>
    public static async Task WriteAsync(HttpContext context, int status, string code, string message)
    {
        var response = context.Response;
        if (response.HasStarted)
        {
            context.Abort();
            return;
        }

        response.StatusCode = status;
        response.ContentType = "application/json; charset=utf-8";
        response.Headers["Docker-Distribution-API-Version"] = "registry/2.0";
        byte[] body = Format(code, message);
        response.ContentLength = body.Length;
        if (!HttpMethods.IsHead(context.Request.Method))
        {
            await response.Body.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
        }
    }

    /// <summary>The JSON body of one error.</summary>
    public static byte[] Format(string code, string message)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteStartArray("errors");
            json.WriteStartObject();
            json.WriteString("code", code);
            json.WriteString("message", message);
            json.WriteNull("detail");
            json.WriteEndObject();
            json.WriteEndArray();
            json.WriteEndObject();
        }

        return buffer.ToArray();
    }
}
