namespace Accelerator.Snapshots;

/// <summary>Nothing in the snapshot store can serve an image.</summary>
public sealed class SnapshotNotFoundException : Exception
{
    /// <summary>Creates the exception.</summary>
    public SnapshotNotFoundException(string message)
        : base(message)
    {
    }
}
