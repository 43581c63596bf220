using Grpc.Core;

namespace Accelerator.Containerd;

/// <summary>A containerd API call failed: what was being done, and containerd's status and message.</summary>
public sealed class ContainerdException : Exception
{
    /// <summary>Creates the exception from the failed call.</summary>
    public ContainerdException(string operation, RpcException inner)
        : base($"containerd {operation} failed: {Describe(inner)}", inner)
    {
        ArgumentNullException.ThrowIfNull(inner);
        StatusCode = inner.StatusCode;
    }

    /// <summary>containerd's gRPC status (<see cref="StatusCode.Unavailable"/> when it could not be reached).</summary>
    public StatusCode StatusCode { get; }

    private static string Describe(RpcException ex)
    {
        string detail = ex.Status.Detail is { Length: > 0 } d ? d : ex.Status.StatusCode.ToString();
        return ex.StatusCode == StatusCode.Unavailable && ex.Status.DebugException is { } cause
            ? $"{detail} ({cause.Message})"
            : $"{detail} ({ex.StatusCode})";
    }
}
