namespace Accelerator.Seekable.Toc;

/// <summary>Exact ranged reads of a layer blob for the TOC readers.</summary>
internal static class BlobRanges
{
    /// <summary>Reads exactly <paramref name="length"/> bytes at <paramref name="offset"/>.</summary>
    /// <exception cref="InvalidDataException">The blob ends before the range does.</exception>
    public static async Task<byte[]> ReadExactlyAsync(IBlobSource blobs, BlobAddress address, long offset, int length, string what, CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[length];
        int read = await blobs.ReadRangeAsync(address, offset, buffer, cancellationToken).ConfigureAwait(false);
        if (read != length)
        {
            throw new InvalidDataException($"The {what} of blob {address.Digest} is truncated: {read} of {length} bytes at offset {offset}.");
        }

        return buffer;
    }
}
