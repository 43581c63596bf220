using System.Globalization;
using Accelerator.Fuse.Takeover;
using Accelerator.Linux;

namespace Accelerator.Cli.Commands;

/// <summary>
/// The takeover of <c>accel snapshotter</c>: its lazy and block mounts are kept alive by a FUSE holder in
/// <c>ROOT/takeover</c>; stopping the daemon (SIGTERM, SIGINT) leaves them there, and the next daemon on the root resumes
/// them at start. <c>--takeover</c> replaces a running daemon: it is sent SIGTERM (its pid is in
/// <c>ROOT/snapshotter.pid</c>), and the new one starts as soon as the root's lock is free.
/// </summary>
internal static class SnapshotterTakeover
{
    private const string PidFileName = "snapshotter.pid";
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(20);

    /// <summary>The holder's directory of the daemon on <paramref name="root"/>.</summary>
    public static string HolderDirectory(string root) => Path.Combine(root, "takeover");

    /// <summary>The takeover options the lazy and block mounters of the daemon on <paramref name="root"/> use.</summary>
    public static FuseTakeoverOptions Options(string root)
        => new() { HolderDirectory = HolderDirectory(root), Launcher = FuseHolderCommand.ForAccelCli() };

    /// <summary>Records this process as the daemon on <paramref name="root"/> (for a successor's <c>--takeover</c>).</summary>
    public static void WritePid(string root)
        => DurableFile.WriteAtomic(Path.Combine(root, PidFileName), System.Text.Encoding.ASCII.GetBytes(Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n"));

    /// <summary>
    /// When a daemon runs on <paramref name="root"/>: sends it SIGTERM (it hands its mounts to the holder and exits) and
    /// waits until it let go of the root. Returns its pid, or null when none ran.
    /// </summary>
    /// <exception cref="TimeoutException">It still holds the root after <paramref name="timeout"/>.</exception>
    /// <exception cref="InvalidOperationException">It left no pid file (a build without takeover): stop it first.</exception>
    public static async Task<int?> StopPredecessorAsync(string root, TimeSpan timeout, CancellationToken cancellationToken)
    {
        string lockFile = Path.Combine(root, "lock");
        if (!IsLocked(lockFile))
        {
            return null;
        }

        string pidFile = Path.Combine(root, PidFileName);
        int pid = File.Exists(pidFile) && int.TryParse(File.ReadAllText(pidFile).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int p) && p > 1
            ? p
            : throw new InvalidOperationException($"A snapshotter runs on {root} but names no process in {pidFile} (a build without takeover?): stop it first.");
        int errno = LibC.Kill(pid, LibC.SIGTERM);
        if (errno != 0)
        {
            throw new InvalidOperationException($"A snapshotter runs on {root}, but process {pid} of {pidFile} cannot be signalled: {LibC.Message(errno)}.");
        }

        var deadline = DateTime.UtcNow + timeout;
        while (IsLocked(lockFile))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"The snapshotter process {pid} still holds {root} {timeout.TotalSeconds:F0} s after SIGTERM.");
            }

            await Task.Delay(PollInterval, cancellationToken).ConfigureAwait(false);
        }

        return pid;
    }

    // As MetadataStore takes it: .NET's shared flock on open, then the exclusive one; either failing means a daemon runs.
    private static bool IsLocked(string lockFile)
    {
        if (!File.Exists(lockFile))
        {
            return false;
        }

        try
        {
            using var handle = File.OpenHandle(lockFile, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
            return LibC.Flock((int)handle.DangerousGetHandle(), LibC.LOCK_EX | LibC.LOCK_NB) != 0;
        }
        catch (FileNotFoundException)
        {
            return false;
        }
        catch (IOException)
        {
            return true;
        }
    }

    /// <summary>Every path the holder in <paramref name="directory"/> keeps alive, for the stale-state sweep (starts no holder).</summary>
    internal sealed class HeldPaths(string directory) : Accelerator.Snapshotter.Hosting.IHeldMounts
    {
        public Task<IReadOnlyList<string>> GetHeldPathsAsync(CancellationToken cancellationToken)
            => FuseMountLease.ListHeldPathsAsync(directory, cancellationToken);
    }
}
