using Accelerator.Oci;
using Accelerator.Oci.Registry;
using Accelerator.P2P.Peers;
using Accelerator.P2P.Protocol;
using Microsoft.Extensions.Logging;

namespace Accelerator.P2P;

/// <summary>
/// Reads registry blobs through a <see cref="P2PPeer"/> inside this process, started at the first read and stopped when
/// the accelerator is disposed; back-to-source reads go to the source the registry would use otherwise.
/// </summary>
internal sealed class InProcessPeerDecorator : IRegistryBlobSourceDecorator, IAsyncDisposable
{
    private readonly Lazy<Task<P2PPeer>> _peer;
    private readonly RegistryOptions _registries;

    public InProcessPeerDecorator(P2POptions options, RegistryClient client, ILoggerFactory? loggers, TimeProvider? time)
    {
        _registries = client.Options;
        var peer = options.Peer;
        foreach (var scheduler in options.Schedulers)
        {
            if (!peer.Schedulers.Contains(scheduler))
            {
                peer.Schedulers.Add(scheduler);
            }
        }

        _peer = new(() => P2PPeer.StartAsync(peer, client, loggers, time), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    public IBlobSource Decorate(string registry, IBlobSource next) => new Source(this, registry, next);

    public async ValueTask DisposeAsync()
    {
        if (_peer.IsValueCreated)
        {
            try
            {
                await (await _peer.Value.ConfigureAwait(false)).DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or InvalidOperationException or System.ComponentModel.DataAnnotations.ValidationException)
            {
                // The peer never started: nothing to stop.
            }
        }
    }

    private RegistryCredential? CredentialFor(string registry)
        => _registries.Hosts.TryGetValue(registry, out var host) && host.Username is not null
            ? new RegistryCredential { Username = host.Username, Password = host.Password }
            : null;

    /// <summary>One registry's blobs through the in-process peer, the rest of the chain as its origin.</summary>
    private sealed class Source(InProcessPeerDecorator owner, string registry, IBlobSource next) : IBlobSource
    {
        private PeerBlobSource? _source;

        public async ValueTask<long> GetSizeAsync(BlobAddress blob, CancellationToken cancellationToken = default)
            => await (await GetAsync().ConfigureAwait(false)).GetSizeAsync(blob, cancellationToken).ConfigureAwait(false);

        public async Task<Stream> OpenReadAsync(BlobAddress blob, CancellationToken cancellationToken = default)
            => await (await GetAsync().ConfigureAwait(false)).OpenReadAsync(blob, cancellationToken).ConfigureAwait(false);

        public async Task<Stream> OpenRangeAsync(BlobAddress blob, long offset, long length, CancellationToken cancellationToken = default)
            => await (await GetAsync().ConfigureAwait(false)).OpenRangeAsync(blob, offset, length, cancellationToken).ConfigureAwait(false);

        private async Task<PeerBlobSource> GetAsync()
        {
            if (Volatile.Read(ref _source) is { } source)
            {
                return source;
            }

            var peer = await owner._peer.Value.ConfigureAwait(false);
            // Two first reads may both create one; either is as good.
            Volatile.Write(ref _source, peer.CreateBlobSource(registry, next, owner.CredentialFor(registry)));
            return _source!;
        }
    }
}
