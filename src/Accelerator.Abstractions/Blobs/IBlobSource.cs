namespace Accelerator;

/// <summary>
/// Content-addressed reads of blobs: the size, the whole blob as a verified stream, and a ranged read.
/// Implementations: a registry, a mirror set, P2P peers, a local content store, an OCI image layout.
/// </summary>
/// <remarks>
/// A whole read is verified: the stream yields at most the expected size and throws
/// <see cref="DigestMismatchException"/> from the read that reaches its end if the bytes do not hash to the digest,
/// so consumers must commit what they read only after reaching the end. A ranged read cannot be checked against the
/// blob digest; callers verify ranges against digests of their own (the lazy format's chunk digests).
/// Missing blobs throw <see cref="BlobNotFoundException"/>.
/// </remarks>
public interface IBlobSource
{
    /// <summary>The blob's size in bytes.</summary>
    ValueTask<long> GetSizeAsync(BlobAddress blob, CancellationToken cancellationToken = default);

    /// <summary>Opens the whole blob for reading, verified against its digest (and size, when known).</summary>
    Task<Stream> OpenReadAsync(BlobAddress blob, CancellationToken cancellationToken = default);

    /// <summary>
    /// Opens <paramref name="length"/> bytes of the blob starting at <paramref name="offset"/>. The stream ends early
    /// only at the blob's end. Throws <see cref="ArgumentOutOfRangeException"/> for a negative offset or length.
    /// </summary>
    Task<Stream> OpenRangeAsync(BlobAddress blob, long offset, long length, CancellationToken cancellationToken = default);
}

/// <summary>Optional capability: a blob source that can say whether it has a blob without fetching it.</summary>
public interface IBlobExistence
{
    /// <summary>Whether the source holds the blob.</summary>
    ValueTask<bool> ExistsAsync(BlobAddress blob, CancellationToken cancellationToken = default);
}

/// <summary>Helpers over <see cref="IBlobSource"/>.</summary>
public static class BlobSourceExtensions
{
    /// <summary>Reads a range into <paramref name="buffer"/>, returning the bytes read (fewer only at the blob's end).</summary>
    public static async ValueTask<int> ReadRangeAsync(this IBlobSource source, BlobAddress blob, long offset, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        await using var stream = await source.OpenRangeAsync(blob, offset, buffer.Length, cancellationToken).ConfigureAwait(false);
        return await stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads a whole blob into memory, verified, refusing blobs larger than <paramref name="maxBytes"/>.</summary>
    public static async Task<byte[]> ReadAllBytesAsync(this IBlobSource source, BlobAddress blob, long maxBytes, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (blob.Size > maxBytes)
        {
            throw new ContentTooLargeException($"Blob {blob.Digest} is {blob.Size} bytes, over the {maxBytes}-byte limit.");
        }

        await using var stream = await source.OpenReadAsync(blob, cancellationToken).ConfigureAwait(false);
        using var buffer = new MemoryStream();
        byte[] chunk = new byte[81920];
        while (true)
        {
            int n = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                break;
            }

            if (buffer.Length + n > maxBytes)
            {
                throw new ContentTooLargeException($"Blob {blob.Digest} exceeds the {maxBytes}-byte limit.");
            }

            buffer.Write(chunk, 0, n);
        }

        return buffer.ToArray();
    }
}
