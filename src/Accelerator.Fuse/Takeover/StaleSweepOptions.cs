using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Accelerator.Fuse.Takeover;

/// <summary>Options of a <see cref="StaleMountSweeper"/>. Checked by <see cref="StaleSweepOptionsValidator"/>.</summary>
public sealed class StaleSweepOptions
{
    /// <summary>
    /// How long a FUSE mount may take to answer statfs(2) before it is left alone as unresponsive (a connection
    /// whose descriptor someone keeps without serving it would make the call wait).
    /// </summary>
    /// <value>Default 2 s.</value>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:10:00")]
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How old a private directory without an owner record (<see cref="Accelerator.Linux.DirectoryOwner"/>) must be
    /// before it can be judged stale: a mounter creates the directory a moment before it records itself.
    /// </summary>
    /// <value>Default 1 min.</value>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan UnrecordedDirectoryGrace { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>The name prefixes of per-mount private directories under a state directory.</summary>
    /// <value>Default <c>lazy-</c> and <c>block-</c> (the lazy and block mounters').</value>
    [Required]
    [MinLength(1)]
    public IList<string> PrivateDirectoryPrefixes { get; set; } = ["lazy-", "block-"];

    /// <summary>How many rounds of unmounting to make at most (a round can uncover a mount that an upper one hid).</summary>
    /// <value>Default 4.</value>
    [Range(1, 32)]
    public int MaxRounds { get; set; } = 4;
}

/// <summary>Validates <see cref="StaleSweepOptions"/> (generated from its data annotations).</summary>
[OptionsValidator]
public sealed partial class StaleSweepOptionsValidator : IValidateOptions<StaleSweepOptions>
{
}
