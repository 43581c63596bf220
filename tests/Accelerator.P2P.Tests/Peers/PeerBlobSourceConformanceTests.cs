using Accelerator.P2P.Peers;
using Accelerator.P2P.Tests.Infrastructure;
using Accelerator.Testing.Conformance;

namespace Accelerator.P2P.Tests.Peers;

/// <summary>
/// <see cref="PeerBlobSource"/> against the shared blob source suite. A second peer reads every well-formed blob
/// first, so the source under test gets its pieces from a parent (verified against the digests the first peer
/// recorded); a corrupted blob is left to the source under test, which reads it back-to-source.
/// </summary>
public sealed class PeerBlobSourceConformanceTests : BlobSourceConformanceTests, IAsyncLifetime
{
    // The suite also addresses blobs without a repository; a registry keeps blobs per repository, so those go here.
    private const string DefaultRepository = "conformance/test";

    private readonly P2PCluster _cluster = new();
    private CountingRegistry? _registry;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        if (_registry is not null)
        {
            await _registry.DisposeAsync();
        }
    }

    protected override async Task<IBlobSource> CreateSourceAsync(IReadOnlyList<KeyValuePair<Digest, byte[]>> blobs)
    {
        _registry = await CountingRegistry.StartAsync();
        foreach (var (digest, content) in blobs)
        {
            _registry.Put(DefaultRepository, digest, content);
        }

        _cluster.Trust(_registry.Host);
        await _cluster.StartSchedulerAsync();
        var warm = await _cluster.StartPeerAsync("warm");
        foreach (var (digest, content) in blobs.Where(b => b.Key.Matches(b.Value)))
        {
            Assert.Equal(digest, await P2PCluster.PullAsync(warm, _registry.Host, new BlobAddress(DefaultRepository, digest, content.Length)));
        }

        var peer = await _cluster.StartPeerAsync("under-test");
        return new DefaultRepositorySource(peer.CreateBlobSource(_registry.Host));
    }

    private sealed class DefaultRepositorySource(PeerBlobSource inner) : IBlobSource
    {
        public ValueTask<long> GetSizeAsync(BlobAddress blob, CancellationToken cancellationToken = default)
            => inner.GetSizeAsync(Map(blob), cancellationToken);

        public Task<Stream> OpenReadAsync(BlobAddress blob, CancellationToken cancellationToken = default)
            => inner.OpenReadAsync(Map(blob), cancellationToken);

        public Task<Stream> OpenRangeAsync(BlobAddress blob, long offset, long length, CancellationToken cancellationToken = default)
            => inner.OpenRangeAsync(Map(blob), offset, length, cancellationToken);

        private static BlobAddress Map(BlobAddress blob) => blob.Repository.Length == 0 ? blob with { Repository = DefaultRepository } : blob;
    }
}
