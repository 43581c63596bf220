using Accelerator.Oci.Registry;
using Accelerator.P2P.Peers;
using Accelerator.P2P.Scheduling;

namespace Accelerator.P2P.Tests.Infrastructure;

/// <summary>
/// Schedulers and peers in this process, on loopback ports, with temporary data directories; disposes them all. The
/// schedulers trust the registries named at construction (and <see cref="Trust"/>), and share <see cref="OperatorToken"/>,
/// which seed peers carry.
/// </summary>
internal sealed class P2PCluster(params string[] trustedRegistries) : IAsyncDisposable
{
    public const int TestPieceSize = 64 * 1024;

    /// <summary>The operator token of every scheduler of the cluster (preheat, seed status).</summary>
    public const string OperatorToken = "test-operator-token-0123456789";

    private readonly List<string> _trusted = [.. trustedRegistries];

    private readonly List<P2PSchedulerServer> _schedulers = [];
    private readonly List<P2PPeer> _peers = [];
    private readonly string _root = Path.Combine(Path.GetTempPath(), "accel-p2p-tests-" + Guid.NewGuid().ToString("N"));

    public static readonly byte[] SharedTokenKey = [.. Enumerable.Range(1, 32).Select(i => (byte)i)];

    public IReadOnlyList<P2PSchedulerServer> Schedulers => _schedulers;

    public IReadOnlyList<P2PPeer> Peers => _peers;

    public string Root => _root;

    public async Task<P2PSchedulerServer> StartSchedulerAsync(Action<P2PSchedulerServerOptions>? configure = null, TimeProvider? time = null)
    {
        var options = new P2PSchedulerServerOptions
        {
            Scheduler = new P2PSchedulerOptions { PieceSize = TestPieceSize, TokenKey = SharedTokenKey, RetryAfter = TimeSpan.FromMilliseconds(20) },
            Registry = new RegistryOptions { PlainHttp = true, MaxRetries = 0 },
        };
        foreach (string registry in _trusted)
        {
            options.TrustedRegistries.Add(registry);
        }

        options.OperatorToken = OperatorToken;
        configure?.Invoke(options);
        var server = await P2PSchedulerServer.StartAsync(options, time: time);
        _schedulers.Add(server);
        return server;
    }

    public async Task<P2PPeer> StartPeerAsync(string name, IEnumerable<Uri>? schedulers = null, Action<P2PPeerOptions>? configure = null, TimeProvider? time = null)
    {
        var options = new P2PPeerOptions
        {
            PeerId = name,
            DataDirectory = Path.Combine(_root, name),
            Registry = new RegistryOptions { PlainHttp = true, MaxRetries = 0 },
            DownloadSlots = 4,
            SchedulerTimeout = TimeSpan.FromSeconds(3),
            SchedulerRetryAfter = TimeSpan.FromSeconds(30),
        };
        foreach (var scheduler in schedulers ?? _schedulers.Select(s => s.Url))
        {
            options.Schedulers.Add(scheduler);
        }

        configure?.Invoke(options);
        if (options.Seed)
        {
            options.OperatorToken ??= OperatorToken;
        }

        var peer = await P2PPeer.StartAsync(options, time: time);
        _peers.Add(peer);
        return peer;
    }

    /// <summary>Reads a whole blob through a peer and returns its digest as computed from the bytes read.</summary>
    public static async Task<Digest> PullAsync(P2PPeer peer, string registry, BlobAddress blob, CancellationToken cancellationToken = default)
    {
        var source = peer.CreateBlobSource(registry);
        await using var stream = await source.OpenReadAsync(blob, cancellationToken);
        return await Digest.ComputeAsync(stream, cancellationToken);
    }

    /// <summary>Makes schedulers started from now on trust <paramref name="registry"/> too.</summary>
    public void Trust(string registry) => _trusted.Add(registry);

    public static byte[] MakeContent(int size, int seed)
    {
        byte[] content = new byte[size];
        new Random(seed).NextBytes(content);
        return content;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var peer in _peers)
        {
            await peer.DisposeAsync();
        }

        foreach (var scheduler in _schedulers)
        {
            await scheduler.DisposeAsync();
        }

        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }
}
