using System.Globalization;

namespace Accelerator.Linux;

/// <summary>
/// A process, named so that a recycled process ID is not mistaken for it: its ID and its start time (field 22 of
/// <c>/proc/PID/stat</c>, clock ticks after boot; proc(5)).
/// </summary>
/// <param name="Pid">The process ID.</param>
/// <param name="StartTime">When it started, in clock ticks after boot.</param>
public readonly record struct ProcessIdentity(int Pid, ulong StartTime)
{
    /// <summary>This process.</summary>
    public static ProcessIdentity Current { get; } = TryGet(Environment.ProcessId)
        ?? throw new InvalidOperationException("/proc/self/stat cannot be read.");

    /// <summary>The process running as <paramref name="pid"/> now, or null when there is none.</summary>
    public static ProcessIdentity? TryGet(int pid)
    {
        if (pid <= 0)
        {
            return null;
        }

        try
        {
            return TryParseStat(File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat"), out var identity) ? identity : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Whether this process still runs (the same ID with the same start time; a zombie counts as ended).</summary>
    public bool IsRunning()
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{Pid.ToString(CultureInfo.InvariantCulture)}/stat");
            return TryParseStat(stat, out var now) && now == this && StateOf(stat) != 'Z';
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Parses a <c>/proc/PID/stat</c> line.</summary>
    /// <returns>False when the line is malformed.</returns>
    public static bool TryParseStat(string stat, out ProcessIdentity identity)
    {
        ArgumentNullException.ThrowIfNull(stat);
        identity = default;
        // "PID (COMM) STATE PPID …": COMM may hold spaces and parentheses, so the fields after it are counted from the
        // last ')'. starttime is field 22, the 20th after COMM.
        int open = stat.IndexOf(" (", StringComparison.Ordinal);
        int close = stat.LastIndexOf(')');
        if (open <= 0 || close < open || !int.TryParse(stat.AsSpan(0, open), NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
        {
            return false;
        }

        string[] fields = stat[(close + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 20 || !ulong.TryParse(fields[19], NumberStyles.None, CultureInfo.InvariantCulture, out ulong start))
        {
            return false;
        }

        identity = new ProcessIdentity(pid, start);
        return true;
    }

    /// <summary>The identity as text: <c>PID STARTTIME</c>.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Pid} {StartTime}");

    /// <summary>Parses <see cref="ToString"/>'s text.</summary>
    public static bool TryParse(string? text, out ProcessIdentity identity)
    {
        identity = default;
        string[] parts = text?.Trim().Split(' ') ?? [];
        if (parts.Length != 2
            || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int pid)
            || !ulong.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out ulong start)
            || pid <= 0)
        {
            return false;
        }

        identity = new ProcessIdentity(pid, start);
        return true;
    }

    private static char StateOf(string stat)
    {
        int close = stat.LastIndexOf(')');
        return close + 2 < stat.Length ? stat[close + 2] : '?';
    }
}
