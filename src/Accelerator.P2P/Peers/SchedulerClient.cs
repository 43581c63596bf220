using System.Net;
using System.Net.Http.Headers;
using Accelerator.P2P.Protocol;

namespace Accelerator.P2P.Peers;

/// <summary>A scheduler did not answer (connection refused or reset, timeout, 5xx): try the next one on the ring.</summary>
internal sealed class SchedulerUnavailableException(Uri scheduler, string message, Exception? inner = null)
    : Exception($"Scheduler {scheduler} is unavailable: {message}", inner)
{
    public Uri Scheduler { get; } = scheduler;
}

/// <summary>A scheduler refused a request (4xx) with its one-line error.</summary>
internal sealed class SchedulerRejectedException(Uri scheduler, HttpStatusCode status, string error)
    : Exception($"Scheduler {scheduler} refused the request ({(int)status}): {error}")
{
    public HttpStatusCode Status { get; } = status;

    public string Error { get; } = error;
}

/// <summary>
/// The peer side of the scheduler API: JSON POSTs with a timeout, answers bounded and validated. Every request carries
/// the peer's secret for that scheduler (once it issued one) and, for a seed peer, the operator token.
/// </summary>
internal sealed class SchedulerClient(HttpClient http, TimeSpan timeout, Func<Uri, string?> secretFor, string? operatorToken)
{
    private static readonly MediaTypeHeaderValue Json = new("application/json");

    public async Task<TResponse?> PostAsync<TRequest, TResponse>(Uri scheduler, string path, TRequest request, CancellationToken cancellationToken)
        where TRequest : class
        where TResponse : class
    {
        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutSource.CancelAfter(timeout);
        using var post = new HttpRequestMessage(HttpMethod.Post, new Uri(scheduler, path));
        post.Content = new ByteArrayContent(P2PProtocol.Serialize(request));
        post.Content.Headers.ContentType = Json;
        if (secretFor(scheduler) is { } secret)
        {
            post.Headers.TryAddWithoutValidation(P2PProtocol.PeerSecretHeader, secret);
        }

        if (operatorToken is not null)
        {
            post.Headers.Authorization = new AuthenticationHeaderValue("Bearer", operatorToken);
        }

        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(post, timeoutSource.Token).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw new SchedulerUnavailableException(scheduler, ex.Message, ex);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new SchedulerUnavailableException(scheduler, "timed out", ex);
        }

        using (response)
        {
            byte[] body;
            try
            {
                body = await ReadBoundedAsync(response, timeoutSource.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or HttpRequestException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                throw new SchedulerUnavailableException(scheduler, ex.Message, ex);
            }

            int status = (int)response.StatusCode;
            if (status >= 500)
            {
                throw new SchedulerUnavailableException(scheduler, $"answered {status}");
            }

            if (status >= 400)
            {
                string error = P2PProtocol.TryParse<ErrorResponse>(body, out var parsed, out _, P2PProtocol.MaxResponseBytes) ? parsed.Error : $"status {status}";
                throw new SchedulerRejectedException(scheduler, response.StatusCode, error);
            }

            if (typeof(TResponse) == typeof(NoContent))
            {
                return null;
            }

            if (!P2PProtocol.TryParse<TResponse>(body, out var message, out string? problem, P2PProtocol.MaxResponseBytes))
            {
                throw new SchedulerUnavailableException(scheduler, $"bad {typeof(TResponse).Name}: {problem}");
            }

            return message;
        }
    }

    private static async Task<byte[]> ReadBoundedAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.Content.Headers.ContentLength > P2PProtocol.MaxResponseBytes)
        {
            throw new IOException($"answer over {P2PProtocol.MaxResponseBytes} bytes");
        }

        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        using var buffer = new MemoryStream();
        byte[] chunk = new byte[16 * 1024];
        int n;
        while ((n = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + n > P2PProtocol.MaxResponseBytes)
            {
                throw new IOException($"answer over {P2PProtocol.MaxResponseBytes} bytes");
            }

            buffer.Write(chunk, 0, n);
        }

        return buffer.ToArray();
    }

    /// <summary>Marks requests whose answer has no body (204).</summary>
    internal sealed class NoContent;
}
