using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Accelerator.Fuse;

/// <summary>
/// Options of a <see cref="FuseMount"/>: the mount itself, and the <see cref="Session"/> that serves it. Checked by
/// <see cref="FuseMountOptionsValidator"/>.
/// </summary>
public sealed class FuseMountOptions : IValidatableObject
{
    /// <summary>The session's options.</summary>
    /// <value>Default: <see cref="FuseSessionOptions"/>'s defaults.</value>
    [Required]
    public FuseSessionOptions Session { get; set; } = new();

    /// <summary>The source column of <c>/proc/mounts</c>.</summary>
    /// <value>Default <c>accel</c>.</value>
    public string FileSystemName { get; set; } = "accel";

    /// <summary>The subtype: the mount's type is <c>fuse.SUBTYPE</c>.</summary>
    /// <value>Default <c>accel</c>.</value>
    public string Subtype { get; set; } = "accel";

    /// <summary>Let every user, not only the mounting one, see the tree (<c>allow_other</c>; containers need it).</summary>
    /// <value>Default <see langword="true"/>.</value>
    public bool AllowOther { get; set; } = true;

    /// <summary>Let the kernel check permissions from the mode bits (<c>default_permissions</c>); otherwise ACCESS is asked.</summary>
    /// <value>Default <see langword="true"/>.</value>
    public bool DefaultPermissions { get; set; } = true;

    /// <summary>
    /// The readahead of the mount's backing device (<c>/sys/class/bdi/0:N/read_ahead_kb</c>), in KiB. The kernel
    /// starts FUSE mounts at 128 KiB, which caps sequential READs at 128 KiB whatever max_read is; null keeps it.
    /// </summary>
    /// <value>Default 4096 (4 MiB: four 1 MiB reads in flight).</value>
    public int? ReadAheadKilobytes { get; set; } = 4096;

    /// <summary>
    /// Unmount when the process gets SIGINT or SIGTERM, aborting the connection if it outlives
    /// <see cref="UnmountTimeout"/>; the signals' default termination is cancelled, so the host waits for
    /// <see cref="FuseMount.Completion"/> and exits. A signal the process inherited as ignored stays ignored (a shell
    /// without job control starts background commands with SIGINT ignored): then only SIGTERM unmounts, and a warning
    /// says so.
    /// </summary>
    /// <value>Default <see langword="false"/>.</value>
    public bool UnmountOnSignal { get; set; }

    /// <summary>How long to wait for the kernel's INIT after mount(2).</summary>
    /// <value>Default 10 s.</value>
    public TimeSpan InitTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long disposing (or a signal) waits for the connection to end after unmounting — open files of a lazily
    /// detached mount, or copies of the mount in other mount namespaces, keep it alive — before aborting it.
    /// </summary>
    /// <value>Default 5 s.</value>
    public TimeSpan UnmountTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <inheritdoc />
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Session is not null && new FuseSessionOptionsValidator().Validate(Options.DefaultName, Session) is { Failed: true, Failures: { } sessionFailures })
        {
            foreach (string failure in sessionFailures)
            {
                yield return new ValidationResult($"{nameof(Session)}: {failure}");
            }
        }

        if (string.IsNullOrWhiteSpace(FileSystemName) || FileSystemName.Any(c => c is ',' or ' ' or '\t' or '\n' or '\\'))
        {
            yield return new ValidationResult($"{nameof(FileSystemName)} must be a non-empty word.");
        }

        if (string.IsNullOrEmpty(Subtype) || !Subtype.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
        {
            yield return new ValidationResult($"{nameof(Subtype)} must be letters, digits, '-' or '_'.");
        }

        if (ReadAheadKilobytes is < 0 or > 1024 * 1024)
        {
            yield return new ValidationResult($"{nameof(ReadAheadKilobytes)} must be 0 to 1048576 or null.");
        }

        if (InitTimeout <= TimeSpan.Zero || UnmountTimeout < TimeSpan.Zero)
        {
            yield return new ValidationResult($"{nameof(InitTimeout)} must be positive and {nameof(UnmountTimeout)} not negative.");
        }
    }
}

/// <summary>Validates <see cref="FuseMountOptions"/> (generated from its data annotations and rules).</summary>
[OptionsValidator]
public sealed partial class FuseMountOptionsValidator : IValidateOptions<FuseMountOptions>
{
}
