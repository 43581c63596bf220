namespace Accelerator.Linux;

/// <summary>
/// State directories only their owner may enter (mode 0700): snapshot stores, chunk and block caches, piece stores,
/// per-mount directories. They hold unpacked images, whose set-user-ID files and devices must not be reachable by
/// other local users through the directory above a mount or a tree (the CVE-2021-41103 class: containerd fixed it
/// the same way, by making the parent directories 0700).
/// </summary>
/// <remarks>
/// A directory that is missing is created 0700 (missing ancestors too). One that exists, is owned by this process's
/// user and lets group or others in is tightened to 0700: an older version created it 0755, and keeping it so would
/// keep the exposure. One owned by another user is refused (its owner could change it at any time), and so is a
/// shared directory such as /tmp (world-writable and sticky), which must never be tightened.
/// </remarks>
public static class PrivateDirectory
{
    /// <summary>rwx for the owner, nothing for group and others.</summary>
    public const UnixFileMode Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    // S_IRWXG | S_IRWXO
    private const uint GroupAndOthers = 0x3F;

    // S_ISVTX | S_IWOTH: /tmp, /var/tmp, /dev/shm.
    private const uint SharedDirectory = 0x200 | 0x2;

    /// <summary>Creates <paramref name="path"/> as a private directory, or makes an existing one private.</summary>
    /// <returns>The full path.</returns>
    /// <exception cref="UnauthorizedAccessException">The directory exists and belongs to another user, or cannot be created.</exception>
    /// <exception cref="IOException">The path exists and is not a directory.</exception>
    public static string Create(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        if (OperatingSystem.IsWindows())
        {
            return Directory.CreateDirectory(full).FullName;
        }

        if (!Directory.Exists(full))
        {
            Directory.CreateDirectory(full, Mode);
        }

        // Through a symbolic link (an operator may link /var/lib/accel to a data disk), the directory it leads to.
        string real = Directory.ResolveLinkTarget(full, returnFinalTarget: true)?.FullName ?? full;
        FileStatus status = LibC.Lstat(LibC.AT_FDCWD, real) ?? throw new DirectoryNotFoundException($"{full} vanished while it was made private.");
        if (!status.IsDirectory)
        {
            throw new IOException($"{full} is not a directory.");
        }

        if (status.Uid != LibC.Geteuid())
        {
            throw new UnauthorizedAccessException(
                $"The state directory {full} belongs to user {status.Uid}, not to this process's user ({LibC.Geteuid()}); refusing to keep images in a directory someone else controls.");
        }

        if ((status.Mode & SharedDirectory) == SharedDirectory)
        {
            throw new IOException($"{full} is a shared directory (world-writable and sticky, like /tmp); give the state a directory of its own.");
        }

        if ((status.Mode & GroupAndOthers) != 0)
        {
            File.SetUnixFileMode(real, Mode);
        }

        return full;
    }

    /// <summary>
    /// <paramref name="preferred"/> made private (e.g. <c>/var/cache/accel</c> as root), else — when this process may
    /// not create it — a private <paramref name="fallback"/>.
    /// </summary>
    public static string FirstWritable(string preferred, string fallback)
    {
        try
        {
            return Create(preferred);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return Create(fallback);
        }
    }

    /// <summary>
    /// A path in the temp directory for this user's fallback state, <paramref name="name"/>-UID: never the shared temp
    /// directory itself (which must stay as it is), and one per user, so that <see cref="Create"/> refuses one another
    /// user made first instead of sharing it.
    /// </summary>
    public static string InTemp(string name) =>
        Path.Combine(Path.GetTempPath(), OperatingSystem.IsWindows() ? name : $"{name}-{LibC.Geteuid()}");

    /// <summary>
    /// Creates a new directory <paramref name="prefix"/>-RANDOM, mode 0700, inside <paramref name="parent"/> (created
    /// if missing, its mode left as it is: the new directory is what keeps others out of what it will hold).
    /// </summary>
    public static string CreateUnique(string parent, string prefix)
    {
        string directory = Path.Combine(Directory.CreateDirectory(parent).FullName, prefix + "-" + Guid.NewGuid().ToString("N"));
        if (OperatingSystem.IsWindows())
        {
            return Directory.CreateDirectory(directory).FullName;
        }

        Directory.CreateDirectory(directory, Mode);
        return directory;
    }
}
