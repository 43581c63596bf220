namespace Accelerator.Lazy.Mounting;

/// <summary>Default locations of caches and mount state on the local machine.</summary>
public static class LocalDirectories
{
    /// <summary>
    /// <paramref name="preferred"/>, created if missing, when this process may create it (e.g. <c>/var/cache/accel</c>
    /// as root); else <paramref name="fallback"/>, unchanged.
    /// </summary>
    public static string FirstWritable(string preferred, string fallback)
    {
        try
        {
            return Directory.CreateDirectory(preferred).FullName;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return fallback;
        }
    }
}
