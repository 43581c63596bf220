using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Accelerator.Fuse.Takeover;

/// <summary>
/// Where a mounter keeps its FUSE connections alive across restarts of the serving process: the holder's directory
/// and how to start the holder. A mounter with these options deposits every fresh mount with the holder, and takes a
/// mount point the holder still holds over (from a running predecessor, which releases it and exits, or after a
/// crash) instead of mounting again. Checked by <see cref="FuseTakeoverOptionsValidator"/>.
/// </summary>
public sealed class FuseTakeoverOptions
{
    /// <summary>The holder's directory (<c>DIRECTORY/holder.sock</c>; made 0700).</summary>
    /// <value>Required; <c>accel mount</c> uses <c>/run/accel/holder</c>, <c>accel snapshotter</c> <c>ROOT/takeover</c>.</value>
    [Required]
    public string HolderDirectory { get; set; } = "";

    /// <summary>Starts the holder when none listens; null: a holder must already run (else no takeover, mounts work as before).</summary>
    /// <value>Default null.</value>
    public FuseHolderLauncher? Launcher { get; set; }

    /// <summary>How long a running predecessor gets to stop serving and let go of a mount point before the holder kills it.</summary>
    /// <value>Default 10 s.</value>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:10:00")]
    public TimeSpan ReleaseTimeout { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary>Validates <see cref="FuseTakeoverOptions"/> (generated from its data annotations).</summary>
[OptionsValidator]
public sealed partial class FuseTakeoverOptionsValidator : IValidateOptions<FuseTakeoverOptions>
{
}
