using System.Runtime.InteropServices;
using System.Text;

namespace Accelerator.Oci.Layers;

public static partial class OverlayMount
{
    // asm-generic/errno-base.h, asm-generic/errno.h
    private const int ENOENT = 2;
    private const int EBUSY = 16;
    private const int EINVAL = 22;
    private const int ENOSYS = 38;
    private const int ENODATA = 61;

    // sys/mount.h, linux/mount.h
    private const ulong MS_RDONLY = 1;
    private const int MNT_DETACH = 2;
    private const int UMOUNT_NOFOLLOW = 8;
    private const uint FSOPEN_CLOEXEC = 0x1;
    private const uint FSMOUNT_CLOEXEC = 0x1;
    private const uint FSCONFIG_SET_STRING = 1;
    private const uint FSCONFIG_CMD_CREATE = 6;
    private const uint MOUNT_ATTR_RDONLY = 0x1;
    private const uint MOVE_MOUNT_F_EMPTY_PATH = 0x4;
    private const int AT_FDCWD = -100;

    /// <summary>
    /// Unmounts what is mounted at <paramref name="target"/> (an overlay or any other file system), detaching it
    /// lazily when busy; symbolic links are not followed.
    /// </summary>
    /// <param name="target">The mount point.</param>
    /// <returns>True when something was unmounted (outright or detached); false when nothing was mounted there.</returns>
    /// <exception cref="IOException">umount2(2) failed for another reason (for example, no permission).</exception>
    public static bool Unmount(string target)
    {
        ArgumentException.ThrowIfNullOrEmpty(target);
        if (Umount2(target, UMOUNT_NOFOLLOW) == 0)
        {
            return true;
        }

        int errno = Marshal.GetLastPInvokeError();
        if (errno == EBUSY && Umount2(target, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
        {
            return true;
        }

        errno = errno == EBUSY ? Marshal.GetLastPInvokeError() : errno;
        return errno is EINVAL or ENOENT
            ? false
            : throw new IOException($"umount2 of '{target}' failed: {Marshal.GetPInvokeErrorMessage(errno)}.", errno);
    }

    /// <summary>Mounts with the classic mount(2) option string (kernels before 6.8).</summary>
    internal static void MountClassic(IReadOnlyList<string> lowerDirectories, string? upperDirectory, string? workDirectory, string target)
    {
        string options = ClassicOptions(lowerDirectories, upperDirectory, workDirectory);
        if (MountNative("overlay", target, "overlay", upperDirectory is null ? MS_RDONLY : 0, options) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"mounting an overlay of {lowerDirectories.Count} layers at '{target}' failed: {Marshal.GetPInvokeErrorMessage(errno)}.", errno);
        }
    }

    /// <summary>Mounts through a file system context; false when this kernel or libc has no fsopen or no <c>lowerdir+</c>.</summary>
    internal static bool TryMountWithFileSystemContext(IReadOnlyList<string> lowerDirectories, string? upperDirectory, string? workDirectory, string target)
    {
        int context;
        try
        {
            context = FsOpen("overlay", FSOPEN_CLOEXEC);
        }
        catch (EntryPointNotFoundException)
        {
            // libc before 2.36 has no wrapper; the classic call works on every kernel this library supports.
            return false;
        }

        if (context < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            return errno == ENOSYS ? false : throw Failure("fsopen(overlay)", target, errno, -1);
        }

        try
        {
            for (int i = 0; i < lowerDirectories.Count; i++)
            {
                if (FsConfig(context, FSCONFIG_SET_STRING, "lowerdir+", lowerDirectories[i], 0) != 0)
                {
                    int errno = Marshal.GetLastPInvokeError();

                    // Before Linux 6.8 overlayfs does not know the parameter and says EINVAL on the first one.
                    return i == 0 && errno == EINVAL
                        ? false
                        : throw Failure($"lower directory '{lowerDirectories[i]}'", target, errno, context);
                }
            }

            Set(context, "source", "overlay", target);
            if (upperDirectory is not null)
            {
                // overlayfs drops a '\' before the next character of upperdir and workdir even through fsconfig
                // (lowerdir+ is taken as it is), so a literal backslash is doubled.
                Set(context, "upperdir", upperDirectory.Replace("\\", "\\\\", StringComparison.Ordinal), target);
                Set(context, "workdir", workDirectory!.Replace("\\", "\\\\", StringComparison.Ordinal), target);
            }

            if (FsConfig(context, FSCONFIG_CMD_CREATE, null, null, 0) != 0)
            {
                throw Failure($"creating the overlay of {lowerDirectories.Count} layers", target, Marshal.GetLastPInvokeError(), context);
            }

            int mount = FsMount(context, FSMOUNT_CLOEXEC, upperDirectory is null ? MOUNT_ATTR_RDONLY : 0);
            if (mount < 0)
            {
                throw Failure("fsmount", target, Marshal.GetLastPInvokeError(), context);
            }

            try
            {
                if (MoveMount(mount, string.Empty, AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) != 0)
                {
                    throw Failure("move_mount", target, Marshal.GetLastPInvokeError(), -1);
                }
            }
            finally
            {
                _ = Close(mount);
            }

            return true;
        }
        finally
        {
            _ = Close(context);
        }
    }

    private static void Set(int context, string key, string value, string target)
    {
        if (FsConfig(context, FSCONFIG_SET_STRING, key, value, 0) != 0)
        {
            throw Failure($"{key} '{value}'", target, Marshal.GetLastPInvokeError(), context);
        }
    }

    /// <summary>The error for a failed step, with the kernel's own messages from the context when it left any.</summary>
    private static IOException Failure(string step, string target, int errno, int context)
    {
        var message = new StringBuilder($"mounting an overlay at '{target}' failed at {step}: {Marshal.GetPInvokeErrorMessage(errno)}");
        if (context >= 0)
        {
            // Each read returns one message ("e overlayfs: ..."), ENODATA when none are left (fsopen(2)).
            Span<byte> buffer = stackalloc byte[512];
            for (int i = 0; i < 8; i++)
            {
                nint read = Read(context, buffer);
                if (read <= 0)
                {
                    break;
                }

                message.Append("; ").Append(Encoding.UTF8.GetString(buffer[..(int)read]).TrimEnd('\n'));
            }
        }

        return new IOException(message.Append('.').ToString(), errno);
    }

    private static unsafe nint Read(int fd, Span<byte> buffer)
    {
        fixed (byte* pointer = buffer)
        {
            nint read = ReadNative(fd, pointer, buffer.Length);
            return read < 0 && Marshal.GetLastPInvokeError() == ENODATA ? 0 : read;
        }
    }

    [LibraryImport("libc", EntryPoint = "mount", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MountNative(string source, string target, string fileSystemType, ulong flags, string? data);

    [LibraryImport("libc", EntryPoint = "umount2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Umount2(string target, int flags);

    [LibraryImport("libc", EntryPoint = "fsopen", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int FsOpen(string fileSystemName, uint flags);

    [LibraryImport("libc", EntryPoint = "fsconfig", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int FsConfig(int context, uint command, string? key, string? value, int auxiliary);

    [LibraryImport("libc", EntryPoint = "fsmount", SetLastError = true)]
    private static partial int FsMount(int context, uint flags, uint attributes);

    [LibraryImport("libc", EntryPoint = "move_mount", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MoveMount(int fromDirectory, string fromPath, int toDirectory, string toPath, uint flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static unsafe partial nint ReadNative(int fd, byte* buffer, nint count);
}
