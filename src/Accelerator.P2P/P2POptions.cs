using System.ComponentModel.DataAnnotations;
using Accelerator.P2P.Peers;

namespace Accelerator.P2P;

/// <summary>
/// Options of P2P distribution for an accelerator: where registry blobs are read through P2P. Full pulls, lazy and block
/// mounts then read their blobs and chunks from peers first and fall back to the mirrors and the origin registry when
/// the peer cannot answer. Set either <see cref="Proxy"/> (the node's peer daemon) or <see cref="Schedulers"/> (a peer
/// inside this process).
/// </summary>
public sealed class P2POptions : IValidatableObject
{
    /// <summary>
    /// The registry-mirror proxy of the local peer daemon (<c>accel p2p peer --proxy URL</c>), e.g.
    /// <c>http://127.0.0.1:65001</c>. Blobs are read through it as containerd would (with <c>ns=REGISTRY</c>); the peer
    /// fetches them through P2P.
    /// </summary>
    /// <value>Null.</value>
    public Uri? Proxy { get; set; }

    /// <summary>
    /// The schedulers of a peer run inside this process (started at the first blob read, stopped with the accelerator),
    /// configured by <see cref="Peer"/>. Its back-to-source reads go through the rest of the chain (mirrors, origin) with
    /// the accelerator's registry client and credentials.
    /// </summary>
    /// <value>Empty.</value>
    public IList<Uri> Schedulers { get; } = [];

    /// <summary>The in-process peer's options (<see cref="P2PPeerOptions.DataDirectory"/> is required with <see cref="Schedulers"/>); its schedulers are <see cref="Schedulers"/>.</summary>
#pragma warning disable SYSLIB1212 // The peer is checked only when it runs (Schedulers set), by Validate below.
    public P2PPeerOptions Peer { get; set; } = new();
#pragma warning restore SYSLIB1212

    /// <summary>How long connecting to the peer may take before a read falls back to the registry.</summary>
    /// <value>10 seconds.</value>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <inheritdoc />
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Proxy is null == (Schedulers.Count == 0))
        {
            yield return new ValidationResult("P2P: set either Proxy (the local peer's registry-mirror proxy URL) or Schedulers (for a peer in this process).");
        }
        else if (Proxy is null)
        {
            if (Schedulers.Any(u => u is null || !u.IsAbsoluteUri || (u.Scheme != Uri.UriSchemeHttp && u.Scheme != Uri.UriSchemeHttps)))
            {
                yield return new ValidationResult("P2P: every scheduler must be an absolute http(s) URL.");
            }

            if (PeerProblem() is { } problem)
            {
                yield return new ValidationResult("P2P peer: " + problem);
            }
        }
        else if (!Proxy.IsAbsoluteUri || (Proxy.Scheme != Uri.UriSchemeHttp && Proxy.Scheme != Uri.UriSchemeHttps) || Proxy.Query.Length > 0)
        {
            yield return new ValidationResult($"P2P: Proxy must be an absolute http(s) URL without a query, not '{Proxy}'.");
        }

        if (ConnectTimeout <= TimeSpan.Zero)
        {
            yield return new ValidationResult("P2P: ConnectTimeout must be positive.");
        }
    }

    private string? PeerProblem()
    {
        try
        {
            ArgumentNullException.ThrowIfNull(Peer);
            Peer.Validate();
            return null;
        }
        catch (Exception ex) when (ex is ValidationException or ArgumentException)
        {
            return ex.Message;
        }
    }
}
