namespace Accelerator.Oci.Layout;

/// <summary>
/// Reads the blobs of an OCI image layout, <c>blobs/&lt;algorithm&gt;/&lt;encoded&gt;</c> (image-layout.md, "Blobs").
/// The repository part of a <see cref="BlobAddress"/> is ignored: a layout has one blob store.
/// </summary>
internal sealed class LayoutBlobSource : IBlobSource, IBlobExistence
{
    private const int BufferSize = 81920;
    private readonly OciImageLayout _layout;

    public LayoutBlobSource(OciImageLayout layout) => _layout = layout;

    public ValueTask<long> GetSizeAsync(BlobAddress blob, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var info = new FileInfo(_layout.GetBlobPath(blob.Digest));
        return info.Exists ? ValueTask.FromResult(info.Length) : throw NotFound(blob, null);
    }

    public Task<Stream> OpenReadAsync(BlobAddress blob, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var file = OpenFile(blob, FileOptions.Asynchronous | FileOptions.SequentialScan);
        return Task.FromResult<Stream>(new VerifyingStream(file, blob.Digest, blob.Size, _layout.DisplayName));
    }

    public Task<Stream> OpenRangeAsync(BlobAddress blob, long offset, long length, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        cancellationToken.ThrowIfCancellationRequested();
        var file = OpenFile(blob, FileOptions.Asynchronous | FileOptions.RandomAccess);
        try
        {
            // Seeking past the end is allowed and yields an empty range, as a read at the end of a blob does.
            file.Seek(offset, SeekOrigin.Begin);
            return Task.FromResult<Stream>(new RangeReadStream(file, length));
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    public ValueTask<bool> ExistsAsync(BlobAddress blob, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var info = new FileInfo(_layout.GetBlobPath(blob.Digest));
        return ValueTask.FromResult(info.Exists && (!blob.HasSize || info.Length == blob.Size));
    }

    private FileStream OpenFile(BlobAddress blob, FileOptions options)
    {
        string path = _layout.GetBlobPath(blob.Digest);
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, BufferSize, options);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw NotFound(blob, ex);
        }
    }

    private BlobNotFoundException NotFound(BlobAddress blob, Exception? inner)
        => new($"blob {blob.Digest}", _layout.DisplayName, inner);
}
