namespace Accelerator.Chunks;

/// <summary>Default locations of mount state on the local machine, shared by the lazy and block mounters.</summary>
public static class LocalDirectories
{
    /// <summary>The default parent of per-mount private directories (FUSE lower trees, overlay upper and work).</summary>
    public const string RunDirectory = "/run/accel";
}
