using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Accelerator.Block.Nbd;

/// <summary>Options of an <see cref="NbdServer"/>, checked by <see cref="NbdServerOptionsValidator"/>.</summary>
public sealed class NbdServerOptions : IValidatableObject
{
    /// <summary>How long a client may take from connecting to entering transmission; then it is disconnected.</summary>
    /// <value>Default 10 s.</value>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a connection may stay silent — no option during the handshake, no request in transmission, and no request
    /// of its own in flight — before it is disconnected, so idle clients cannot hold every <see cref="MaxConnections"/>
    /// slot. <see cref="Timeout.InfiniteTimeSpan"/> disables it (a kernel client that keeps a device attached wants that).
    /// </summary>
    /// <value>Default 5 minutes.</value>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// TLS (<c>NBD_OPT_STARTTLS</c>); when set, the server runs in FORCEDTLS mode: options other than <c>STARTTLS</c> and
    /// <c>ABORT</c> are answered <c>NBD_REP_ERR_TLS_REQD</c> (and <c>EXPORT_NAME</c> ends the session) until TLS is up.
    /// </summary>
    /// <value>Default <see langword="null"/>: no TLS (<c>STARTTLS</c> is answered <c>NBD_REP_ERR_UNSUP</c>).</value>
    public NbdTlsOptions? Tls { get; set; }

    /// <summary>The most connections served at once; further clients are disconnected at once.</summary>
    /// <value>Default 64.</value>
    public int MaxConnections { get; set; } = 64;

    /// <summary>The most requests of one connection served concurrently (the rest wait to be read).</summary>
    /// <value>Default 32.</value>
    [Range(1, 1024)]
    public int MaxRequestsInFlight { get; set; } = 32;

    /// <summary>
    /// The most READ and WRITE payload bytes one connection holds in buffers at once (counted in whole MiB); further
    /// requests wait to be read. At least 32 MiB, so one request of the maximum payload always fits.
    /// </summary>
    /// <value>Default 64 MiB.</value>
    [Range(Protocol.NbdLimits.MaxPayload, 16L * 1024 * 1024 * 1024)]
    public long MaxPayloadBytesInFlight { get; set; } = 64 * 1024 * 1024;

    /// <summary>How long stopping waits for requests in flight before closing connections.</summary>
    /// <value>Default 10 s.</value>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The export served for the empty name ("default export"). Null serves the only export when there is exactly one.
    /// </summary>
    /// <value>Default <see langword="null"/>.</value>
    public string? DefaultExport { get; set; }

    /// <inheritdoc />
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (HandshakeTimeout <= TimeSpan.Zero)
        {
            yield return new ValidationResult($"{nameof(HandshakeTimeout)} must be positive.");
        }

        if (IdleTimeout <= TimeSpan.Zero && IdleTimeout != Timeout.InfiniteTimeSpan)
        {
            yield return new ValidationResult($"{nameof(IdleTimeout)} must be positive (or infinite).");
        }

        if (MaxConnections < 1)
        {
            yield return new ValidationResult($"{nameof(MaxConnections)} must be at least 1.");
        }

        if (ShutdownTimeout < TimeSpan.Zero)
        {
            yield return new ValidationResult($"{nameof(ShutdownTimeout)} must not be negative.");
        }
    }
}

/// <summary>Validates <see cref="NbdServerOptions"/> (generated from its data annotations and rules).</summary>
[OptionsValidator]
public sealed partial class NbdServerOptionsValidator : IValidateOptions<NbdServerOptions>
{
}
