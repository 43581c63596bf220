namespace Accelerator;

/// <summary>
/// Optional capability: a blob source that writes a whole blob into a file itself. Sources that must hold a blob back
/// until it is verified (a mirror set that fails over between hosts, peers) spool it anyway; writing straight into the
/// caller's file saves a second copy.
/// </summary>
public interface IBlobDownloader
{
    /// <summary>
    /// Writes the blob to <paramref name="path"/>, which must not exist. The file appears only once the bytes are
    /// verified against the digest (and size, when known); on failure nothing is left at <paramref name="path"/>.
    /// <paramref name="progress"/> receives the bytes written so far (it may go back when a read restarts).
    /// Returns the bytes fetched from each place the blob came from (e.g. <c>origin</c>, <c>mirror:HOST</c>).
    /// </summary>
    Task<IReadOnlyDictionary<string, long>> DownloadToFileAsync(BlobAddress blob, string path, IProgress<long>? progress = null, CancellationToken cancellationToken = default);
}
