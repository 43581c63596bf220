using System.Buffers;

namespace Accelerator.Oci.Registry;

/// <summary>Bounded reads of response bodies and the stream types the client hands out.</summary>
internal static class HttpBodies
{
    /// <summary>
    /// Reads a body of at most <paramref name="maxBytes"/>: a larger Content-Length is refused before reading, a body
    /// that grows past the bound while reading is refused too (or cut, with <paramref name="truncate"/>).
    /// </summary>
    public static async Task<byte[]> ReadBoundedAsync(HttpContent content, long maxBytes, bool truncate, CancellationToken cancellationToken, string what = "response body")
    {
        if (!truncate && content.Headers.ContentLength is long declared && declared > maxBytes)
        {
            throw new ContentTooLargeException($"The {what} is {declared} bytes, over the {maxBytes}-byte limit.");
        }

        await using var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        using var buffer = new MemoryStream();
        byte[] chunk = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            while (true)
            {
                int n = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }

                if (buffer.Length + n > maxBytes)
                {
                    if (truncate)
                    {
                        buffer.Write(chunk, 0, (int)(maxBytes - buffer.Length));
                        break;
                    }

                    throw new ContentTooLargeException($"The {what} exceeds the {maxBytes}-byte limit.");
                }

                buffer.Write(chunk, 0, n);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }

        return buffer.ToArray();
    }
}

/// <summary>A response body stream that owns its response (disposing one disposes the other) and yields at most a given length.</summary>
internal sealed class ResponseStream : ReadOnlyStream
{
    private readonly HttpResponseMessage _response;
    private readonly Stream _inner;
    private long _remaining;

    public ResponseStream(HttpResponseMessage response, Stream inner, long maxLength = long.MaxValue)
    {
        _response = response;
        _inner = inner;
        _remaining = maxLength;
    }

    public static async Task<ResponseStream> OpenAsync(HttpResponseMessage response, long maxLength, CancellationToken cancellationToken)
    {
        try
        {
            var inner = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            return new ResponseStream(response, inner, maxLength);
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    public override int Read(Span<byte> buffer)
    {
        if (_remaining <= 0 || buffer.IsEmpty)
        {
            return 0;
        }

        int n = _inner.Read(buffer[..(int)Math.Min(buffer.Length, _remaining)]);
        _remaining -= n;
        return n;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_remaining <= 0 || buffer.IsEmpty)
        {
            return 0;
        }

        int n = await _inner.ReadAsync(buffer[..(int)Math.Min(buffer.Length, _remaining)], cancellationToken).ConfigureAwait(false);
        _remaining -= n;
        return n;
    }

    /// <summary>Reads and discards <paramref name="count"/> bytes; returns how many there were.</summary>
    public async Task<long> SkipAsync(long count, CancellationToken cancellationToken)
    {
        byte[] scratch = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            long skipped = 0;
            while (skipped < count)
            {
                int n = await _inner.ReadAsync(scratch.AsMemory(0, (int)Math.Min(scratch.Length, count - skipped)), cancellationToken).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }

                skipped += n;
            }

            return skipped;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inner.Dispose();
            _response.Dispose();
        }

        base.Dispose(disposing);
    }
}
