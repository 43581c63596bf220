namespace Accelerator;

/// <summary>
/// A live mount another process left for a successor (a takeover) holds the mount point, and it serves other content
/// than asked for — or the same image through another strategy. Nothing was touched. The facade asks the next strategy
/// when <see cref="HeldStrategy"/> names another one (the mount is resumed by the strategy that made it).
/// </summary>
public sealed class MountPointHeldException : InvalidOperationException
{
    /// <summary>Creates the exception for <paramref name="mountPoint"/>, held by <paramref name="heldStrategy"/> (null: unknown).</summary>
    public MountPointHeldException(string mountPoint, string? heldStrategy, string message)
        : base(message)
    {
        MountPoint = mountPoint;
        HeldStrategy = heldStrategy;
    }

    /// <summary>The mount point.</summary>
    public string MountPoint { get; }

    /// <summary>The strategy of the live mount there, or null when its state could not be read.</summary>
    public string? HeldStrategy { get; }
}
