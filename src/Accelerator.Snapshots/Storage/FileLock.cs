using Accelerator.Linux;

namespace Accelerator.Snapshots.Storage;

/// <summary>
/// An exclusive flock(2) on a lock file: held across processes, and released by the kernel when the holder dies
/// (even by <c>kill -9</c>), so a lock never outlives a crashed warm.
/// </summary>
internal sealed class FileLock : IDisposable
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(25);
    private int _fd;

    private FileLock(int fd, string path)
    {
        _fd = fd;
        Path = path;
    }

    /// <summary>The lock file.</summary>
    public string Path { get; }

    /// <summary>Takes the lock, waiting for other holders; cancellable.</summary>
    public static async Task<FileLock> AcquireAsync(string path, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (TryAcquire(path) is { } held)
            {
                return held;
            }

            await Task.Delay(PollInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Takes the lock when nobody holds it; else null.</summary>
    public static FileLock? TryAcquire(string path)
    {
        int fd = LibC.Open(path, LibC.O_CREAT | LibC.O_RDWR | LibC.O_CLOEXEC, 0x180 /* 0600 */);
        if (fd < 0)
        {
            throw LibC.LastError("open", path);
        }

        while (true)
        {
            if (LibC.Flock(fd, LibC.LOCK_EX | LibC.LOCK_NB) == 0)
            {
                return new FileLock(fd, path);
            }

            int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            if (errno == Errno.EINTR)
            {
                continue;
            }

            LibC.Close(fd);
            return errno == Errno.EAGAIN /* EWOULDBLOCK */ ? null : throw new IOException($"flock of '{path}' failed (errno {errno}).", errno);
        }
    }

    /// <summary>Whether some process holds the lock at <paramref name="path"/> now.</summary>
    public static bool IsHeld(string path)
    {
        if (!File.Exists(path))
        {
            return false;
        }

        using var probe = TryAcquire(path);
        return probe is null;
    }

    public void Dispose()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
        {
            LibC.Close(fd);
        }
    }
}
