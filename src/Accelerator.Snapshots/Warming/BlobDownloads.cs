using System.Buffers;

namespace Accelerator.Snapshots.Warming;

/// <summary>Downloads a blob to a file, verified against its digest, counting the bytes by the source that served them.</summary>
internal static class BlobDownloads
{
    public const int CopyBufferSize = 1 << 20;

    /// <summary>
    /// Downloads <paramref name="blob"/> into <paramref name="directory"/> (one of <paramref name="slots"/> at a time),
    /// adding its bytes to <paramref name="sources"/> under the host that served them (a mirror set says which) or
    /// <paramref name="sourceName"/>; returns the file's path.
    /// </summary>
    public static async Task<string> DownloadAsync(IBlobSource source, BlobAddress blob, string directory, SemaphoreSlim slots, string sourceName, Dictionary<string, long> sources, CancellationToken cancellationToken)
    {
        await slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            string path = Path.Combine(directory, blob.Digest.Encoded);
            if (source is IBlobDownloader downloader)
            {
                // Mirror sets verify before handing bytes on and say which host served them.
                var fetched = await downloader.DownloadToFileAsync(blob, path, null, cancellationToken).ConfigureAwait(false);
                Count(sources, fetched);
                return path;
            }

            byte[] buffer = ArrayPool<byte>.Shared.Rent(CopyBufferSize);
            try
            {
                await using var input = await source.OpenReadAsync(blob, cancellationToken).ConfigureAwait(false);
                await using var verified = new VerifyingStream(input, blob.Digest, blob.Size, blob.ToString(), leaveOpen: true);
                await using var output = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read, 1, FileOptions.Asynchronous);
                long done = 0;
                int n;
                while ((n = await verified.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    await output.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                    done += n;
                }

                Count(sources, new Dictionary<string, long> { [sourceName] = done });
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }

            return path;
        }
        finally
        {
            slots.Release();
        }
    }

    public static void Count(Dictionary<string, long> sources, IReadOnlyDictionary<string, long> fetched)
    {
        lock (sources)
        {
            foreach (var (name, bytes) in fetched)
            {
                sources[name] = sources.GetValueOrDefault(name) + bytes;
            }
        }
    }
}
