using Accelerator.P2P.Proxy;
using Accelerator.Testing;
using Accelerator.Testing.Conformance;

namespace Accelerator.P2P.Tests.Proxy;

/// <summary>
/// <see cref="PeerProxyBlobSource"/> passes the blob-source suite: reads go through a real <see cref="RegistryMirrorProxy"/>
/// serving an in-memory source (which may hold corrupted content, as a lying peer would).
/// </summary>
public sealed class PeerProxyBlobSourceConformanceTests : BlobSourceConformanceTests, IAsyncLifetime
{
    private readonly List<IAsyncDisposable> _proxies = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var proxy in _proxies)
        {
            await proxy.DisposeAsync();
        }
    }

    protected override async Task<IBlobSource> CreateSourceAsync(IReadOnlyList<KeyValuePair<Digest, byte[]>> blobs)
    {
        var memory = new InMemoryBlobSource();
        foreach (var (digest, content) in blobs)
        {
            memory.AddUnverified(digest, content);
        }

        var proxy = await RegistryMirrorProxy.StartAsync(
            new RegistryMirrorProxyOptions { Listen = new Uri("http://127.0.0.1:0"), Upstream = "registry.invalid", AuthorizeBlobReads = false },
            _ => memory);
        _proxies.Add(proxy);
        return new InRepository(new PeerProxyBlobSource(proxy.Url, "registry.invalid"));
    }

    /// <summary>The registry API addresses blobs in a repository: the suite's repository-less addresses get one.</summary>
    private sealed class InRepository(IBlobSource inner) : IBlobSource, IBlobExistence
    {
        private static BlobAddress Fix(BlobAddress blob) => blob.Repository.Length == 0 ? blob with { Repository = "conformance/test" } : blob;

        public ValueTask<long> GetSizeAsync(BlobAddress blob, CancellationToken cancellationToken = default) => inner.GetSizeAsync(Fix(blob), cancellationToken);

        public Task<Stream> OpenReadAsync(BlobAddress blob, CancellationToken cancellationToken = default) => inner.OpenReadAsync(Fix(blob), cancellationToken);

        public Task<Stream> OpenRangeAsync(BlobAddress blob, long offset, long length, CancellationToken cancellationToken = default) => inner.OpenRangeAsync(Fix(blob), offset, length, cancellationToken);

        public ValueTask<bool> ExistsAsync(BlobAddress blob, CancellationToken cancellationToken = default) => ((IBlobExistence)inner).ExistsAsync(Fix(blob), cancellationToken);
    }
}
