using System.CommandLine;
using System.Globalization;
using Accelerator.Cli.Console;
using Accelerator.Hosting;
using Accelerator.Oci.Registry;
using Accelerator.P2P.Hosting;
using Accelerator.P2P.Peers;
using Accelerator.P2P.Protocol;
using Accelerator.P2P.Proxy;
using Microsoft.Extensions.DependencyInjection;

namespace Accelerator.Cli.Commands;

internal static partial class P2PCommand
{
    private static Command CreatePeer(CommonOptions common, CliConsole console)
    {
        var schedulers = new Option<string[]>("--scheduler") { Description = "Scheduler URLs (comma-separated or repeated); a task picks one by consistent hashing and fails over along the ring. None: every read goes to the registry.", HelpName = "URL[,URL...]", Arity = ArgumentArity.ZeroOrMore };
        var listen = new Option<string>("--listen") { Description = "Where to serve pieces to other peers, http://ADDRESS:PORT or https:// with --tls-cert (port 0: any free port).", Required = true, HelpName = "URL" };
        var tls = new ListenerTlsFlags();
        var clientTls = new ClientTlsFlags();
        var advertise = new Option<string?>("--advertise") { Description = "The URL other peers reach this peer at, when it differs from --listen (e.g. listening on 0.0.0.0).", HelpName = "URL" };
        var proxy = new Option<string?>("--proxy") { Description = "Also serve a registry mirror (/v2/) here for containerd (hosts.toml) and docker (registry-mirrors): manifests pass through, blobs come through P2P. https:// uses --tls-cert (no client certificates asked for). Beyond loopback it needs --allow-upstream.", HelpName = "URL" };
        var upstream = new Option<string?>("--upstream") { Description = "The registry the proxy forwards to when a request names none with containerd's 'ns' parameter (docker's registry-mirrors: docker.io).", HelpName = "REGISTRY" };
        var allow = new Option<string[]>("--allow-upstream") { Description = "Serve only these registries (and --upstream) through the proxy; others a client names with 'ns' get 403 (repeatable or comma-separated). Required when --proxy is not loopback; default on loopback: any.", HelpName = "REGISTRY", Arity = ArgumentArity.ZeroOrMore };
        var dataDirectory = new Option<string>("--data-dir")
        {
            Description = "The piece store (kept across restarts).",
            HelpName = "DIR",
            DefaultValueFactory = _ => Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify), "accel", "p2p"),
        };
        var seed = new Option<bool>("--seed") { Description = "A seed peer: preferred for back-to-source reads, and preheats what the scheduler names." };
        var labels = new Option<string[]>("--label") { Description = "Locality for parent scoring: host=NAME, rack=NAME, zone=NAME (repeatable or comma-separated).", HelpName = "KEY=VALUE", Arity = ArgumentArity.ZeroOrMore };
        var capacity = Flags.Size("--capacity", "The most bytes the piece store keeps (512, 64K, 100M, 10G, 1T; binary); least recently used pieces are evicted beyond it. Default: 10G.");
        var memoryCache = Flags.Size("--memory-cache", "Bytes of recently stored pieces also kept in memory, served without a disk read or re-hash (64K, 256M, 1G; binary; 0: off). Default: 256M.", allowZero: true);
        var uploadLimit = Flags.Size("--upload-limit", "Cap uploads to other peers at SIZE bytes per second (64K, 100M, 1G; binary). Default: unlimited.");
        var uploadSlots = new Option<int>("--upload-slots") { Description = "Pieces uploaded at once; more requests are told to try another parent.", DefaultValueFactory = _ => 8 };
        var downloadSlots = new Option<int>("--download-slots") { Description = "Pieces downloaded at once.", DefaultValueFactory = _ => 8 };
        var peerId = new Option<string?>("--peer-id") { Description = "This peer's identity (default: the machine name and a random suffix).", HelpName = "ID" };
        var operatorToken = new Option<string?>("--operator-token-file") { Description = "A file (mode 0600 or stricter) holding the scheduler's operator token; a --seed peer needs it.", HelpName = "FILE" };
        var preheatSize = Flags.Size("--max-preheat-size", "The largest blob a seed peer preheats (512, 64K, 100M, 10G, 1T; binary). Default: 16G.");
        var preheats = new Option<int>("--max-preheats") { Description = "Preheat downloads a seed peer runs at once.", DefaultValueFactory = _ => 2, HelpName = "N" };
        var command = new Command("peer", "Run a P2P peer: a verified piece store shared with other peers, reads through the scheduler, and optionally a registry-mirror proxy.")
        {
            schedulers, listen, advertise, proxy, upstream, allow, dataDirectory, seed, labels, capacity, memoryCache, uploadLimit, uploadSlots, downloadSlots, peerId,
            operatorToken, preheatSize, preheats,
        };
        foreach (var option in tls.All.Concat(clientTls.All))
        {
            command.Options.Add(option);
        }

        command.SetAction(CommonOptions.Guard(console, async (result, cancellationToken) =>
        {
            bool plainHttp = result.GetValue(common.PlainHttp);
            var listenUrl = ParseListen("--listen", result.GetRequiredValue(listen));
            var serverTls = tls.Read(result);
            var options = new P2PPeerOptions
            {
                PeerId = result.GetValue(peerId),
                Listen = listenUrl,
                Tls = ListenerTlsFlags.For("--listen", listenUrl, serverTls),
                ClientTls = clientTls.Read(result, serverTls),
                AdvertisedUrl = result.GetValue(advertise) is { } advertised
                    ? Uri.TryCreate(advertised, UriKind.Absolute, out var advertisedUrl) ? advertisedUrl : throw new FormatException($"--advertise: '{advertised}' is not a URL.")
                    : null,
                DataDirectory = result.GetRequiredValue(dataDirectory),
                Seed = result.GetValue(seed),
                Locality = ParseLabels(result.GetValue(labels) ?? []),
                CapacityBytes = result.GetValue(capacity) ?? 10L << 30,
                MemoryCacheBytes = result.GetValue(memoryCache) ?? 256L << 20,
                UploadBytesPerSecond = result.GetValue(uploadLimit) ?? 0,
                UploadSlots = result.GetValue(uploadSlots),
                DownloadSlots = result.GetValue(downloadSlots),
                Registry = common.CreateRegistryOptions(result),
                OperatorToken = result.GetValue(operatorToken) is { } tokenFile ? await ReadOperatorTokenAsync(tokenFile, cancellationToken).ConfigureAwait(false) : null,
                MaxPreheatBlobBytes = result.GetValue(preheatSize) ?? 16L << 30,
                MaxConcurrentPreheats = result.GetValue(preheats) is int n and >= 1 and <= 64 ? n : throw new FormatException("--max-preheats: 1 to 64."),
            };
            foreach (string scheduler in (result.GetValue(schedulers) ?? []).SelectMany(s => s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
            {
                options.Schedulers.Add(Uri.TryCreate(scheduler, UriKind.Absolute, out var url) && (url.Scheme == Uri.UriSchemeHttp || url.Scheme == Uri.UriSchemeHttps)
                    ? url
                    : throw new FormatException($"--scheduler: '{scheduler}' is not an http(s) URL."));
            }

            var proxyOptions = result.GetValue(proxy) is { } proxyUrl
                ? ProxyOptions(ParseListen("--proxy", proxyUrl), serverTls, result.GetValue(upstream), plainHttp)
                : null;
            foreach (string registry in (result.GetValue(allow) ?? []).SelectMany(a => a.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
            {
                (proxyOptions ?? throw new FormatException("--allow-upstream needs --proxy.")).AllowedUpstreams.Add(registry);
            }

            proxyOptions?.Validate();
            if (proxyOptions is null && result.GetValue(upstream) is not null)
            {
                throw new FormatException("--upstream needs --proxy: it names the registry the proxy forwards to.");
            }

            await DaemonHost.RunAsync(
                ConfigureLogging,
                services =>
                {
                    services.AddP2PPeer(options);
                    if (proxyOptions is not null)
                    {
                        services.AddRegistryMirrorProxy(proxyOptions);
                    }
                },
                async daemons =>
                {
                    var peer = daemons.GetRequiredService<P2PPeerHostedService>().Peer!;
                    var mirror = proxyOptions is null ? null : daemons.GetRequiredService<RegistryMirrorProxyHostedService>().Proxy;
                    console.WriteLine($"P2P peer {peer.PeerId} listening on {peer.Url}{(mirror is null ? "" : $" (registry mirror: {mirror.Url})")} (metrics: {peer.Url}metrics).");
                    await console.Out.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                },
                cancellationToken).ConfigureAwait(false);
            return 0;
        }));
        return command;
    }

    private static RegistryMirrorProxyOptions ProxyOptions(Uri listen, ListenerTlsOptions? tls, string? upstream, bool plainHttp) => new()
    {
        Listen = listen,
        // The proxy serves containerd and docker, which present no client certificates: TLS without mTLS.
        Tls = ListenerTlsFlags.For("--proxy", listen, tls is null ? null : new ListenerTlsOptions { CertificateFile = tls.CertificateFile, KeyFile = tls.KeyFile }),
        Upstream = upstream,
        PlainHttpUpstream = plainHttp,
    };

    /// <summary>host=…, rack=…, zone=… labels (repeatable or comma-separated); the host defaults to the machine name.</summary>
    internal static PeerLocality ParseLabels(IEnumerable<string> labels)
    {
        string? host = Environment.MachineName;
        string? rack = null;
        string? zone = null;
        foreach (string label in labels.SelectMany(l => l.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
        {
            int equals = label.IndexOf('=', StringComparison.Ordinal);
            string key = equals > 0 ? label[..equals] : "";
            string value = equals > 0 ? label[(equals + 1)..] : "";
            if (value.Length is 0 or > 128)
            {
                throw new FormatException($"--label: '{label}' is not KEY=VALUE with a value of 1 to 128 characters.");
            }

            switch (key)
            {
                case "host":
                    host = value;
                    break;
                case "rack":
                    rack = value;
                    break;
                case "zone":
                    zone = value;
                    break;
                default:
                    throw new FormatException($"--label: unknown key '{key}' (host, rack or zone).");
            }
        }

        return new PeerLocality { Host = host, Rack = rack, Zone = zone };
    }
}
