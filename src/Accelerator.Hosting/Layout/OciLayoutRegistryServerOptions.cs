using System.ComponentModel.DataAnnotations;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace Accelerator.Hosting.Layout;

/// <summary>Options of an <see cref="OciLayoutRegistryServer"/>, checked by <see cref="OciLayoutRegistryServerOptionsValidator"/>.</summary>
public sealed partial class OciLayoutRegistryServerOptions : IValidatableObject
{
    /// <summary>
    /// Where to listen: <c>http://ADDRESS:PORT</c> with an IP address or <c>localhost</c>; port 0 picks a free port (see
    /// <see cref="OciLayoutRegistryServer.Url"/>). <value>Default: <c>http://127.0.0.1:0</c>.</value>
    /// </summary>
    public Uri Listen { get; set; } = new("http://127.0.0.1:0");

    /// <summary>
    /// TLS for an <c>https://</c> <see cref="Listen"/> URL: certificate and key files (re-read when they change) and,
    /// optionally, the certificate authority whose client certificates are required.
    /// <value>Default: null, plain HTTP.</value>
    /// </summary>
    [ValidateObjectMembers(typeof(ListenerTlsOptionsValidator))]
    public ListenerTlsOptions? Tls { get; set; }

    /// <summary>
    /// The repository name the layout's images are served under (distribution spec name grammar, e.g.
    /// <c>demo/sample</c>); other names are answered 404 <c>NAME_UNKNOWN</c>. <value>Default: <c>library/sample</c>.</value>
    /// </summary>
    public string Repository { get; set; } = "library/sample";

    /// <summary>The rules: an http(s) listen URL without a path that agrees with <see cref="Tls"/>, and a repository name.</summary>
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Listen is null || ListenerTlsOptions.CheckScheme(Listen, Tls) is not null || Listen.AbsolutePath != "/")
        {
            yield return new ValidationResult($"Listen must be http://ADDRESS:PORT (https:// with Tls), not '{Listen}'.");
        }

        if (Repository is null || Repository.Length > 255 || !RepositoryName().IsMatch(Repository))
        {
            yield return new ValidationResult($"Repository '{Repository}' is not a repository name (lowercase path components such as demo/sample).");
        }
    }

    // distribution-spec, "Pulling manifests": <name> must match this expression.
    [GeneratedRegex(@"^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$", RegexOptions.CultureInvariant)]
    private static partial Regex RepositoryName();
}

/// <summary>Validates <see cref="OciLayoutRegistryServerOptions"/> (generated from its rules and its TLS options' rules).</summary>
[OptionsValidator]
public sealed partial class OciLayoutRegistryServerOptionsValidator : IValidateOptions<OciLayoutRegistryServerOptions>
{
}

/// <summary>What an <see cref="OciLayoutRegistryServer"/> has served so far.</summary>
/// <param name="Requests">Requests answered (any status).</param>
/// <param name="ManifestBytesServed">Manifest body bytes written.</param>
/// <param name="BlobBytesServed">Blob body bytes written (whole and ranged GETs).</param>
public sealed record OciLayoutRegistryStatistics(long Requests, long ManifestBytesServed, long BlobBytesServed)
{
    /// <summary>Every body byte of manifests and blobs written.</summary>
    public long BytesServed => ManifestBytesServed + BlobBytesServed;

    /// <summary>The figures of this snapshot minus those of an <paramref name="earlier"/> one.</summary>
    public OciLayoutRegistryStatistics Since(OciLayoutRegistryStatistics earlier)
    {
        ArgumentNullException.ThrowIfNull(earlier);
        return new(Requests - earlier.Requests, ManifestBytesServed - earlier.ManifestBytesServed, BlobBytesServed - earlier.BlobBytesServed);
    }
}
