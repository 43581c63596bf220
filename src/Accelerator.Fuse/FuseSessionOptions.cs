using System.ComponentModel.DataAnnotations;
using Accelerator.Fuse.Protocol;
using Microsoft.Extensions.Options;

namespace Accelerator.Fuse;

/// <summary>
/// Options of a <see cref="FuseSession"/>: cache timeouts, request sizes, reader threads, and the request timeout that
/// keeps a hung backend from hanging readers. The defaults suit an immutable image tree. Checked by
/// <see cref="FuseSessionOptionsValidator"/>.
/// </summary>
public sealed class FuseSessionOptions : IValidatableObject
{
    /// <summary>How long the kernel may cache a name lookup.</summary>
    /// <value>Default 1 day: the tree never changes.</value>
    public TimeSpan EntryTimeout { get; set; } = TimeSpan.FromDays(1);

    /// <summary>How long the kernel may cache attributes.</summary>
    /// <value>Default 1 day.</value>
    public TimeSpan AttributeTimeout { get; set; } = TimeSpan.FromDays(1);

    /// <summary>
    /// How long the kernel may cache a failed lookup (a negative entry), sparing the repeated misses of a program's
    /// start (library and PATH searches); zero replies ENOENT uncached.
    /// </summary>
    /// <value>Default 1 day.</value>
    public TimeSpan NegativeEntryTimeout { get; set; } = TimeSpan.FromDays(1);

    /// <summary>Keep file pages and directory listings cached across opens (FOPEN_KEEP_CACHE, FOPEN_CACHE_DIR).</summary>
    /// <value>Default <see langword="true"/>: the content never changes.</value>
    public bool KeepCache { get; set; } = true;

    /// <summary>
    /// The longest a file system read may take; after it the reader gets EIO and the read is cancelled, so a hung
    /// backend never leaves a reader stuck. Null waits as long as the backend takes (interrupts still work).
    /// </summary>
    /// <value>Default <see langword="null"/>.</value>
    public TimeSpan? RequestTimeout { get; set; }

    /// <summary>The largest READ asked of the kernel (FUSE_MAX_PAGES), 4 KiB to 16 MiB; the kernel may lower it.</summary>
    /// <value>Default 1 MiB, the kernel's default limit.</value>
    public int MaxRead { get; set; } = 1024 * 1024;

    /// <summary>The largest WRITE payload; sizes each reader's request buffer (writes are not served, so it stays small).</summary>
    /// <value>Default 128 KiB.</value>
    public int MaxWrite { get; set; } = 128 * 1024;

    /// <summary>The most asynchronous requests (readahead) the kernel keeps in flight.</summary>
    /// <value>Default 64.</value>
    public int MaxBackground { get; set; } = 64;

    /// <summary>Reader threads started with the session; more start while all are busy.</summary>
    /// <value>Default 2.</value>
    public int MinReaders { get; set; } = 2;

    /// <summary>The most reader threads; each reads <c>/dev/fuse</c> and serves what it read.</summary>
    /// <value>Default 16.</value>
    public int MaxReaders { get; set; } = 16;

    /// <summary>
    /// How long <see cref="FuseSession.StopReadingAsync"/> waits for the reads already read to be answered before it
    /// leaves them to a successor (which gets them again through the kernel's resend, Linux 6.9+; on older kernels a
    /// read left behind is never answered, so a longer wait loses less).
    /// </summary>
    /// <value>Default 5 s.</value>
    public TimeSpan StopTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The capabilities asked for in INIT.</summary>
    /// <value>Default <see cref="FuseInitSettings.DefaultFlags"/>.</value>
    public FuseInitFlags InitFlags { get; set; } = FuseInitSettings.DefaultFlags;

    /// <inheritdoc />
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        var failures = new List<ValidationResult>();
        void Check(bool ok, string failure)
        {
            if (!ok)
            {
                failures.Add(new ValidationResult(failure));
            }
        }

        Check(EntryTimeout >= TimeSpan.Zero, $"{nameof(EntryTimeout)} must not be negative.");
        Check(AttributeTimeout >= TimeSpan.Zero, $"{nameof(AttributeTimeout)} must not be negative.");
        Check(NegativeEntryTimeout >= TimeSpan.Zero, $"{nameof(NegativeEntryTimeout)} must not be negative.");
        Check(RequestTimeout is null || RequestTimeout > TimeSpan.Zero, $"{nameof(RequestTimeout)} must be positive or null.");
        Check(StopTimeout >= TimeSpan.Zero, $"{nameof(StopTimeout)} must not be negative.");
        Check(MaxRead is >= FuseProtocol.PageSize and <= 16 * 1024 * 1024, $"{nameof(MaxRead)} must be 4 KiB to 16 MiB.");
        Check(MaxWrite is >= FuseProtocol.PageSize and <= 16 * 1024 * 1024, $"{nameof(MaxWrite)} must be 4 KiB to 16 MiB.");
        Check(MaxBackground is >= 1 and <= ushort.MaxValue, $"{nameof(MaxBackground)} must be 1 to 65535.");
        Check(MinReaders >= 1, $"{nameof(MinReaders)} must be at least 1.");
        Check(MaxReaders >= MinReaders && MaxReaders <= 1024, $"{nameof(MaxReaders)} must be {nameof(MinReaders)} to 1024.");
        return failures;
    }
}

/// <summary>Validates <see cref="FuseSessionOptions"/> (generated from its data annotations and rules).</summary>
[OptionsValidator]
public sealed partial class FuseSessionOptionsValidator : IValidateOptions<FuseSessionOptions>
{
}
