using Accelerator.Linux;

namespace Accelerator.Lazy.Mounting;

/// <summary>Default locations of caches and mount state on the local machine.</summary>
public static class LocalDirectories
{
    /// <summary>The default parent of per-mount private directories (FUSE lower trees, overlay upper and work).</summary>
    public const string RunDirectory = "/run/accel";

    /// <summary>
    /// <paramref name="preferred"/>, created if missing and made private (mode 0700, see <see cref="PrivateDirectory"/>),
    /// when this process may (e.g. <c>/var/cache/accel</c> as root); else <paramref name="fallback"/>, unchanged.
    /// </summary>
    public static string FirstWritable(string preferred, string fallback)
    {
        try
        {
            return PrivateDirectory.Create(preferred);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return fallback;
        }
    }
}
