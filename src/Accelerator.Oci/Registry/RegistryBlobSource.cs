namespace Accelerator.Oci.Registry;

/// <summary>
/// The blobs of one registry host as an <see cref="IBlobSource"/>: whole reads verified while streaming, ranged reads
/// with <c>Range</c> requests, sizes and existence with HEAD. Blobs are addressed by repository and digest.
/// </summary>
public sealed class RegistryBlobSource : IBlobSource, IBlobExistence
{
    private readonly RegistryClient _client;

    internal RegistryBlobSource(RegistryClient client, string registry)
    {
        _client = client;
        Registry = registry;
    }

    /// <summary>The registry host, <c>host[:port]</c>.</summary>
    public string Registry { get; }

    /// <inheritdoc />
    /// <remarks>A known size in the address is returned as is; otherwise the registry is asked (HEAD).</remarks>
    public async ValueTask<long> GetSizeAsync(BlobAddress blob, CancellationToken cancellationToken = default)
    {
        if (blob.HasSize)
        {
            return blob.Size;
        }

        return await _client.HeadBlobAsync(Registry, blob.Repository, blob.Digest, cancellationToken).ConfigureAwait(false)
            ?? throw new BlobNotFoundException($"blob {blob}", Registry);
    }

    /// <inheritdoc />
    public Task<Stream> OpenReadAsync(BlobAddress blob, CancellationToken cancellationToken = default)
        => _client.GetBlobAsync(Registry, blob.Repository, blob.Digest, blob.Size, cancellationToken);

    /// <inheritdoc />
    public Task<Stream> OpenRangeAsync(BlobAddress blob, long offset, long length, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (blob.HasSize)
        {
            if (offset >= blob.Size)
            {
                return Task.FromResult(Stream.Null);
            }

            length = Math.Min(length, blob.Size - offset);
        }

        return _client.GetBlobRangeAsync(Registry, blob.Repository, blob.Digest, offset, length, cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask<bool> ExistsAsync(BlobAddress blob, CancellationToken cancellationToken = default)
        => await _client.HeadBlobAsync(Registry, blob.Repository, blob.Digest, cancellationToken).ConfigureAwait(false) is not null;
}
