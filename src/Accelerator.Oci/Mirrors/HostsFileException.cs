namespace Accelerator.Oci.Mirrors;

/// <summary>A <c>hosts.toml</c> file is malformed: the message names the file and the line.</summary>
public sealed class HostsFileException : FormatException
{
    /// <summary>Creates the exception for <paramref name="path"/> at a 1-based <paramref name="line"/> and <paramref name="column"/> (0 when unknown).</summary>
    public HostsFileException(string path, int line, int column, string problem, Exception? inner = null)
        : base(line > 0 ? $"{path}:{line}:{column}: {problem}" : $"{path}: {problem}", inner)
    {
        Path = path;
        Line = line;
        Column = column;
        Problem = problem;
    }

    /// <summary>The file.</summary>
    public string Path { get; }

    /// <summary>The 1-based line, or 0 when the problem is not at one line.</summary>
    public int Line { get; }

    /// <summary>The 1-based column, or 0.</summary>
    public int Column { get; }

    /// <summary>What is wrong, without the location.</summary>
    public string Problem { get; }
}
