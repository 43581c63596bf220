namespace Accelerator.Fuse.Interop;

/// <summary>
/// Which signals this process ignores, from the <c>SigIgn</c> mask of <c>/proc/self/status</c> (proc(5)). A shell
/// without job control starts background commands (<c>cmd &amp;</c>) with SIGINT and SIGQUIT ignored, and the ignore
/// is inherited across fork and exec; .NET then leaves SIGINT ignored, so a <see cref="System.Runtime.InteropServices.PosixSignalRegistration"/>
/// for it never runs.
/// </summary>
internal static class SignalDisposition
{
    private const string StatusPath = "/proc/self/status";

    /// <summary>Whether this process ignores <paramref name="signal"/> (false when the status cannot be read).</summary>
    public static bool IsIgnored(int signal)
    {
        try
        {
            return IsIgnored(File.ReadAllText(StatusPath), signal);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Whether the <c>SigIgn</c> line of <paramref name="status"/> (a <c>/proc/PID/status</c> text) has <paramref name="signal"/>.</summary>
    public static bool IsIgnored(string status, int signal)
    {
        ArgumentNullException.ThrowIfNull(status);
        ArgumentOutOfRangeException.ThrowIfLessThan(signal, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(signal, 64);
        foreach (var line in status.AsSpan().EnumerateLines())
        {
            if (!line.StartsWith("SigIgn:", StringComparison.Ordinal))
            {
                continue;
            }

            // Signal n is bit n - 1 of the hexadecimal mask.
            return ulong.TryParse(line["SigIgn:".Length..].Trim(), System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture, out ulong mask)
                && (mask & (1UL << (signal - 1))) != 0;
        }

        return false;
    }
}
