namespace Accelerator.Linux;

/// <summary>
/// Which process owns a per-mount private directory: a small file (<c>.owner</c>: <c>PID STARTTIME</c>, see
/// <see cref="ProcessIdentity"/>) the mounter writes when it creates the directory, so that a later start can tell
/// the directories of running processes from those a killed one left behind.
/// </summary>
public static class DirectoryOwner
{
    /// <summary>The file's name inside the directory.</summary>
    public const string FileName = ".owner";

    /// <summary>Records this process as the owner of <paramref name="directory"/> (replacing an earlier owner: a successor that took it over).</summary>
    /// <exception cref="IOException">The file could not be written.</exception>
    public static void Record(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        // /run is a tmpfs: the record matters only until the next boot, so no fsync.
        File.WriteAllText(Path.Combine(directory, FileName), ProcessIdentity.Current + "\n");
    }

    /// <summary>The owner recorded in <paramref name="directory"/>, or null when none is (or the record is unreadable).</summary>
    public static ProcessIdentity? Read(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        string path = Path.Combine(directory, FileName);
        try
        {
            // A record is a few bytes; a link or anything larger was not written by Record.
            var info = new FileInfo(path);
            if (!info.Exists || info.LinkTarget is not null || info.Length > 64)
            {
                return null;
            }

            return ProcessIdentity.TryParse(File.ReadAllText(path), out var owner) ? owner : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
