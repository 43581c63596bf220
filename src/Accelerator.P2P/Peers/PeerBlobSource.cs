using System.Security.Cryptography;
using System.Text;
using Accelerator.P2P.Protocol;

namespace Accelerator.P2P.Peers;

/// <summary>
/// The blobs of one registry read through P2P: whole reads fetch every piece (from parents, or from the registry when
/// the scheduler sends this peer back-to-source), check the blob digest, then stream from the verified piece store;
/// ranged reads fetch only the pieces covering the range, so lazy mounts read their chunks through P2P. With no
/// scheduler configured or none answering, reads go straight to <see cref="Origin"/>. Created by
/// <see cref="P2PPeer.CreateBlobSource(string, RegistryCredential?)"/>.
/// </summary>
public sealed class PeerBlobSource : IBlobSource
{
    private readonly P2PPeer _peer;

    internal PeerBlobSource(P2PPeer peer, string registry, IBlobSource origin, RegistryCredential? credential)
    {
        _peer = peer;
        Registry = registry;
        Origin = origin;
        Credential = credential;
        // Per registry: access proven at one registry says nothing about another.
        CredentialKey = registry.ToLowerInvariant() + "\n" + (credential is null ? "anonymous" : Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes($"{credential.Username}\0{credential.Password}\0{credential.Authorization}"))));
    }

    /// <summary>The registry host, <c>host[:port]</c>, as the scheduler checks access at it.</summary>
    public string Registry { get; }

    /// <summary>Where back-to-source and fallback reads go.</summary>
    public IBlobSource Origin { get; }

    /// <summary>The credential forwarded to the scheduler for access checks (<see langword="null"/>: anonymous).</summary>
    internal RegistryCredential? Credential { get; }

    /// <summary>A hash naming <see cref="Credential"/> without holding its secret.</summary>
    internal string CredentialKey { get; }

    /// <inheritdoc />
    /// <remarks>A known size in the address is returned as is; otherwise the origin is asked (a HEAD, no bytes).</remarks>
    public async ValueTask<long> GetSizeAsync(BlobAddress blob, CancellationToken cancellationToken = default)
        => blob.HasSize ? blob.Size : await Origin.GetSizeAsync(blob, cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public Task<Stream> OpenReadAsync(BlobAddress blob, CancellationToken cancellationToken = default)
        => _peer.OpenBlobAsync(this, blob, cancellationToken);

    /// <inheritdoc />
    public Task<Stream> OpenRangeAsync(BlobAddress blob, long offset, long length, CancellationToken cancellationToken = default)
        => _peer.OpenRangeAsync(this, blob, offset, length, cancellationToken);
}
