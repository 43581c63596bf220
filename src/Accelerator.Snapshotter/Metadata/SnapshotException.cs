namespace Accelerator.Snapshotter.Metadata;

/// <summary>Why a snapshot operation was refused; each maps to one gRPC status (containerd's errdefs).</summary>
public enum SnapshotError
{
    /// <summary>The key, name or parent does not exist (gRPC NotFound).</summary>
    NotFound,

    /// <summary>The key or name is taken, or the layer is already there (gRPC AlreadyExists).</summary>
    AlreadyExists,

    /// <summary>The snapshot is not in a state that allows the operation (gRPC FailedPrecondition).</summary>
    FailedPrecondition,

    /// <summary>The request itself is wrong: oversized, empty, malformed (gRPC InvalidArgument).</summary>
    InvalidArgument,
}

/// <summary>A snapshot operation refused for <see cref="Error"/>; nothing was changed.</summary>
public sealed class SnapshotException : Exception
{
    /// <summary>Creates the exception.</summary>
    public SnapshotException(SnapshotError error, string message)
        : base(message)
    {
        Error = error;
    }

    /// <summary>Creates the exception (for serializers and analyzers; <see cref="Error"/> is InvalidArgument).</summary>
    public SnapshotException()
        : this(SnapshotError.InvalidArgument, "invalid snapshot request")
    {
    }

    /// <summary>Creates the exception (<see cref="Error"/> is InvalidArgument).</summary>
    public SnapshotException(string message)
        : this(SnapshotError.InvalidArgument, message)
    {
    }

    /// <summary>Creates the exception (<see cref="Error"/> is InvalidArgument).</summary>
    public SnapshotException(string message, Exception innerException)
        : base(message, innerException)
    {
        Error = SnapshotError.InvalidArgument;
    }

    /// <summary>Why the operation was refused.</summary>
    public SnapshotError Error { get; }

    internal static SnapshotException NotFound(string what) => new(SnapshotError.NotFound, what);

    internal static SnapshotException AlreadyExists(string what) => new(SnapshotError.AlreadyExists, what);

    internal static SnapshotException FailedPrecondition(string what) => new(SnapshotError.FailedPrecondition, what);

    internal static SnapshotException InvalidArgument(string what) => new(SnapshotError.InvalidArgument, what);
}
