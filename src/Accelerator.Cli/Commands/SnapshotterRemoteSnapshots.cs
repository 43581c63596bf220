using System.CommandLine;
using Accelerator.Snapshotter.Hosting;
using Accelerator.Snapshotter.Remote;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Accelerator.Cli.Commands;

/// <summary>
/// The remote snapshots of <c>accel snapshotter</c>: the facade built from the usual flags (<c>--plain-http</c>,
/// <c>--auth-file</c>, <c>--mirror</c>, <c>--hosts-dir</c>, <c>--p2p</c>) and the config file's <c>[registry]</c>,
/// <c>[remote]</c>, <c>[lazy]</c> and <c>[p2p]</c> sections (flags win), with the cache, lazy and block strategies — never the full
/// pull, which is containerd's own download — and their state under the daemon's root: <c>ROOT/cache</c> (the snapshot
/// store, shared with the snapshot-store provider), <c>ROOT/chunks</c>, <c>ROOT/blocks</c>, <c>ROOT/remote</c>. The lazy and
/// block mounts are kept alive by the FUSE holder in <c>ROOT/takeover</c> (see <see cref="SnapshotterTakeover"/>).
/// </summary>
internal static class SnapshotterRemoteSnapshots
{
    // fetchTimeout: --fetch-timeout, the lazy and block mounts' fetch bound, or null for their default.
    public static void Add(IServiceCollection services, CommonOptions common, ParseResult result, IConfiguration settings, TimeSpan? fetchTimeout = null)
    {
        services.AddRemoteSnapshots(
            options => settings.GetSection("remote").Bind(options),
            accelerator =>
            {
                accelerator.ConfigureRegistries(settings.GetSection("registry"));
                common.Configure(accelerator, result);
                var p2p = settings.GetSection("p2p");
                if (p2p.Exists() && result.GetValue(common.P2P) is null)
                {
                    accelerator.UseP2P(options => p2p.Bind(options));
                }

                accelerator.UseSnapshotCache().UseLazyMount().UseBlockDevice();
                var under = accelerator.Services;
                under.AddOptions<Accelerator.Snapshots.SnapshotStoreOptions>().PostConfigure<IOptions<SnapshotterOptions>>(
                    (o, s) => o.Root = Path.Combine(s.Value.Root, "cache"));
                // [lazy]: e.g. verify_indexed_layers (re-hash seekable layers against their digests), max_whole_layer_bytes.
                under.AddOptions<Accelerator.Lazy.Mounting.LazyMountOptions>().Configure(o => settings.GetSection("lazy").Bind(o));
                under.AddOptions<Accelerator.Lazy.Mounting.LazyMountOptions>().PostConfigure<IOptions<SnapshotterOptions>>((o, s) =>
                {
                    o.RequestTimeout = fetchTimeout ?? o.RequestTimeout;
                    o.CacheDirectory ??= Path.Combine(s.Value.Root, "chunks");
                    o.StateDirectory ??= Path.Combine(s.Value.Root, "lazy");
                    o.Takeover ??= SnapshotterTakeover.Options(s.Value.Root);
                });
                under.AddOptions<Accelerator.Block.Mounting.BlockMountOptions>().PostConfigure<IOptions<SnapshotterOptions>>((o, s) =>
                {
                    o.RequestTimeout = fetchTimeout ?? o.RequestTimeout;
                    o.CacheDirectory ??= Path.Combine(s.Value.Root, "blocks");
                    o.StateDirectory ??= Path.Combine(s.Value.Root, "block");
                    o.Takeover ??= SnapshotterTakeover.Options(s.Value.Root);
                });
            });
        // What the holder keeps at start (mount points, FUSE mounts, private directories) is resumed by the remote
        // snapshots, never unmounted, and never cleaned up as stale.
        services.AddSingleton<IHeldMounts>(sp => new SnapshotterTakeover.HeldPaths(
            SnapshotterTakeover.HolderDirectory(sp.GetRequiredService<IOptions<SnapshotterOptions>>().Value.Root)));
    }
}
