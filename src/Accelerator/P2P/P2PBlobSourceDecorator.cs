using Accelerator.Oci;
using Accelerator.P2P.Proxy;
using Microsoft.Extensions.Options;

namespace Accelerator.P2P;

/// <summary>Puts the local peer's proxy in front of every registry's blobs, with the registry (or its mirrors) behind it.</summary>
internal sealed class P2PBlobSourceDecorator : IRegistryBlobSourceDecorator, IDisposable
{
    private readonly Uri _proxy;
    private readonly HttpClient _http;

    public P2PBlobSourceDecorator(IOptions<P2POptions> options)
    {
        var value = options.Value;
        _proxy = value.Proxy!;
        // No overall timeout: a large blob streams for as long as it takes; a dead peer fails at connect.
        _http = new HttpClient(new SocketsHttpHandler { ConnectTimeout = value.ConnectTimeout, AllowAutoRedirect = false })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    public IBlobSource Decorate(string registry, IBlobSource next)
        => new FallbackBlobSource(new PeerProxyBlobSource(_proxy, registry, _http), next);

    public void Dispose() => _http.Dispose();
}

/// <summary>Validates <see cref="P2POptions"/> at start.</summary>
internal sealed class P2POptionsValidator : IValidateOptions<P2POptions>
{
    public ValidateOptionsResult Validate(string? name, P2POptions options)
        => options.GetProblems() is { Count: > 0 } problems ? ValidateOptionsResult.Fail(problems) : ValidateOptionsResult.Success;
}
