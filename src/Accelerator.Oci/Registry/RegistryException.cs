using System.Net;
using System.Text;
using System.Text.Json;

namespace Accelerator.Oci.Registry;

/// <summary>
/// A registry answered with an error, or could not be reached. The message is one line: what was asked, the status,
/// and the registry's own error codes and messages (<c>errors[].code/message</c> of the distribution spec).
/// </summary>
public sealed class RegistryException : IOException
{
    /// <summary>Creates the exception.</summary>
    public RegistryException(string message, HttpStatusCode? statusCode = null, string? errorCode = null, Exception? inner = null)
        : base(message, inner)
    {
        StatusCode = statusCode;
        ErrorCode = errorCode;
    }

    /// <summary>The HTTP status, when the registry answered.</summary>
    public HttpStatusCode? StatusCode { get; }

    /// <summary>The first error code of the registry's error body (<c>UNAUTHORIZED</c>, <c>DENIED</c>, <c>MANIFEST_UNKNOWN</c>…), if any.</summary>
    public string? ErrorCode { get; }

    // A registry error body is small; anything bigger is not worth showing.
    internal const int MaxErrorBodyBytes = 64 * 1024;

    /// <summary>Builds the exception for an unexpected response, reading (bounded) the registry's error body.</summary>
    internal static async Task<RegistryException> FromResponseAsync(HttpResponseMessage response, string what, string? hint, CancellationToken cancellationToken)
    {
        byte[] body;
        try
        {
            body = await HttpBodies.ReadBoundedAsync(response.Content, MaxErrorBodyBytes, truncate: true, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException)
        {
            body = [];
        }

        var (code, detail) = ParseErrors(body);
        var message = new StringBuilder();
        message.Append(what).Append(": ").Append((int)response.StatusCode).Append(' ').Append(response.ReasonPhrase ?? response.StatusCode.ToString());
        if (detail is not null)
        {
            message.Append(" (").Append(detail).Append(')');
        }

        if (hint is not null)
        {
            message.Append("; ").Append(hint);
        }

        return new RegistryException(message.ToString(), response.StatusCode, code);
    }

    /// <summary>
    /// Reads <c>{"errors":[{"code":…,"message":…,"detail":…}]}</c>; returns the first code and a one-line summary, or
    /// nulls when the body is not such a document.
    /// </summary>
    internal static (string? Code, string? Summary) ParseErrors(ReadOnlySpan<byte> body)
    {
        if (body.IsEmpty || body.Length > MaxErrorBodyBytes)
        {
            return (null, null);
        }

        try
        {
            var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 16 });
            using var json = JsonDocument.ParseValue(ref reader);
            if (json.RootElement.ValueKind != JsonValueKind.Object
                || !json.RootElement.TryGetProperty("errors", out var errors)
                || errors.ValueKind != JsonValueKind.Array)
            {
                return (null, null);
            }

            string? first = null;
            var parts = new List<string>();
            foreach (var error in errors.EnumerateArray().Take(8))
            {
                if (error.ValueKind != JsonValueKind.Object)
                {
                    continue;
                }

                string? code = error.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
                string? text = error.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;
                first ??= code;
                string part = code is null ? text ?? "" : text is null ? code : $"{code}: {text}";
                if (part.Length > 0)
                {
                    parts.Add(Clean(part));
                }
            }

            return (first, parts.Count == 0 ? null : string.Join("; ", parts));
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            return (null, null);
        }
    }

    private static string Clean(string text)
    {
        var span = text.Length > 300 ? text[..300] + "…" : text;
        return string.Create(span.Length, span, static (dest, src) =>
        {
            for (int i = 0; i < src.Length; i++)
            {
                dest[i] = char.IsControl(src[i]) ? ' ' : src[i];
            }
        });
    }
}
