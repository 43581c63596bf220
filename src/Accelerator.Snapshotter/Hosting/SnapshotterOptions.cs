using System.ComponentModel.DataAnnotations;
using System.Text;
using Microsoft.Extensions.Options;

namespace Accelerator.Snapshotter.Hosting;

/// <summary>
/// Where the snapshotter keeps its state and where it listens. Bound from the <c>[snapshotter]</c> section of
/// <c>accel snapshotter --config FILE</c> (<c>root</c>, <c>address</c>); checked by <see cref="SnapshotterOptionsValidator"/>.
/// </summary>
public sealed class SnapshotterOptions : IValidatableObject
{
    /// <summary>The configuration section these options are bound from.</summary>
    public const string SectionName = "snapshotter";

    /// <summary>The longest unix socket path (<c>sizeof(sun_path)</c> is 108, with its terminating NUL).</summary>
    public const int MaxAddressBytes = 107;

    /// <summary>
    /// The state directory (metadata, snapshot trees), made 0700; one snapshotter per root.
    /// <value>Default: <c>/var/lib/accel</c>.</value>
    /// </summary>
    [Required]
    public string Root { get; set; } = "/var/lib/accel";

    /// <summary>
    /// The unix socket containerd's <c>[proxy_plugins.accel] address</c> names; created 0600 in a directory created 0700.
    /// <value>Default: <c>/run/accel/snapshotter.sock</c>.</value>
    /// </summary>
    [Required]
    public string Address { get; set; } = "/run/accel/snapshotter.sock";

    /// <summary>The rules: an absolute socket path that fits <c>sun_path</c>.</summary>
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (string.IsNullOrEmpty(Address))
        {
            yield break;
        }

        if (!Path.IsPathFullyQualified(Address))
        {
            yield return new ValidationResult($"The snapshotter address '{Address}' must be an absolute path to a unix socket.", [nameof(Address)]);
        }

        if (Encoding.UTF8.GetByteCount(Address) > MaxAddressBytes)
        {
            yield return new ValidationResult($"The snapshotter address '{Address}' is longer than a unix socket path may be ({MaxAddressBytes} bytes).", [nameof(Address)]);
        }
    }
}

/// <summary>Validates <see cref="SnapshotterOptions"/> (generated from its rules).</summary>
[OptionsValidator]
public sealed partial class SnapshotterOptionsValidator : IValidateOptions<SnapshotterOptions>
{
}
