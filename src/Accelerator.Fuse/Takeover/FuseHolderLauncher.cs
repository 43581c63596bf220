using System.Diagnostics;

namespace Accelerator.Fuse.Takeover;

/// <summary>
/// How <see cref="FuseHolderClient.ConnectAsync"/> starts a holder when none listens: a factory of the
/// <see cref="ProcessStartInfo"/> that runs one for a directory. The process must outlive its starter — in a session
/// of its own, not in the starter's process group or terminal — and must not keep the starter's standard streams open
/// (a caller reading them to their end would wait for the holder); <see cref="Detached"/> builds such a command.
/// </summary>
/// <param name="createStartInfo">The start info for a holder serving the given directory (full path).</param>
public sealed class FuseHolderLauncher(Func<string, ProcessStartInfo> createStartInfo)
{
    private readonly Func<string, ProcessStartInfo> _createStartInfo = createStartInfo ?? throw new ArgumentNullException(nameof(createStartInfo));

    /// <summary>The name of the holder's log (standard output and error) in its directory, with <see cref="Detached"/>.</summary>
    public const string LogName = "holder.log";

    /// <summary>How long <see cref="FuseHolderClient.ConnectAsync"/> waits for a started holder to listen.</summary>
    /// <value>Default 30 seconds.</value>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The start info for a holder of <paramref name="directory"/>.</summary>
    public ProcessStartInfo CreateStartInfo(string directory) => _createStartInfo(Path.GetFullPath(directory));

    /// <summary>
    /// A launcher that runs <paramref name="program"/> <paramref name="arguments"/> <c>--directory DIR</c> detached:
    /// <c>setsid -f</c> (a new session, no controlling terminal, not a child of the starter once setsid returns), with
    /// standard input from <c>/dev/null</c> and standard output and error appended to <c>DIR/holder.log</c>.
    /// </summary>
    /// <param name="program">The executable (e.g. <c>accel</c>, or <c>dotnet</c>).</param>
    /// <param name="arguments">The arguments before <c>--directory DIR</c> (e.g. the entry assembly and <c>fuse-holder</c>).</param>
    public static FuseHolderLauncher Detached(string program, IEnumerable<string> arguments)
    {
        ArgumentException.ThrowIfNullOrEmpty(program);
        string[] fixedArguments = [.. arguments ?? throw new ArgumentNullException(nameof(arguments))];
        return new FuseHolderLauncher(directory =>
        {
            var start = new ProcessStartInfo("setsid") { UseShellExecute = false };

            // sh redirects the streams, then becomes the holder (exec): $0 is the log, "$@" the command.
            foreach (string argument in (string[])["-f", "/bin/sh", "-c", "umask 077; exec \"$@\" </dev/null >>\"$0\" 2>&1", Path.Combine(directory, LogName), program, .. fixedArguments, "--directory", directory])
            {
                start.ArgumentList.Add(argument);
            }

            return start;
        });
    }

    /// <summary>Starts a holder of <paramref name="directory"/> (the runtime reaps the starter when it exits).</summary>
    internal void Start(string directory)
    {
        using var process = Process.Start(CreateStartInfo(directory)) ?? throw new FuseHolderException($"Could not start the FUSE holder for {directory}.");
    }
}
