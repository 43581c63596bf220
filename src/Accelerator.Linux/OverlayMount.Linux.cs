using System.Runtime.InteropServices;
using System.Text;

namespace Accelerator.Linux;

public static partial class OverlayMount
{
    // linux/mount.h
    private const uint FSOPEN_CLOEXEC = 0x1;
    private const uint FSMOUNT_CLOEXEC = 0x1;
    private const uint FSCONFIG_SET_STRING = 1;
    private const uint FSCONFIG_CMD_CREATE = 6;
    private const uint MOUNT_ATTR_RDONLY = 0x1;
    private const uint MOVE_MOUNT_F_EMPTY_PATH = 0x4;

    /// <summary>Mounts with the classic mount(2) option string (kernels before 6.8).</summary>
    internal static void MountClassic(IReadOnlyList<string> lowerDirectories, string? upperDirectory, string? workDirectory, string target)
    {
        string options = ClassicOptions(lowerDirectories, upperDirectory, workDirectory);
        int errno = LibC.Mount("overlay", target, "overlay", upperDirectory is null ? MountFlags.ReadOnly : MountFlags.None, options);
        if (errno != 0)
        {
            throw new IOException($"mounting an overlay of {lowerDirectories.Count} layers at '{target}' failed: {Marshal.GetPInvokeErrorMessage(errno)}.", errno);
        }
    }

    /// <summary>Mounts through a file system context; false when this kernel or libc has no fsopen or no <c>lowerdir+</c>.</summary>
    internal static bool TryMountWithFileSystemContext(IReadOnlyList<string> lowerDirectories, string? upperDirectory, string? workDirectory, string target)
    {
        int context;
        try
        {
            context = LibC.FsOpen("overlay", FSOPEN_CLOEXEC);
        }
        catch (EntryPointNotFoundException)
        {
            // libc before 2.36 has no wrapper; the classic call works on every kernel this library supports.
            return false;
        }

        if (context < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            return errno == Errno.ENOSYS ? false : throw Failure("fsopen(overlay)", target, errno, -1);
        }

        try
        {
            for (int i = 0; i < lowerDirectories.Count; i++)
            {
                if (LibC.FsConfig(context, FSCONFIG_SET_STRING, "lowerdir+", lowerDirectories[i], 0) != 0)
                {
                    int errno = Marshal.GetLastPInvokeError();

                    // Before Linux 6.8 overlayfs does not know the parameter and says EINVAL on the first one.
                    return i == 0 && errno == Errno.EINVAL
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

            if (LibC.FsConfig(context, FSCONFIG_CMD_CREATE, null, null, 0) != 0)
            {
                throw Failure($"creating the overlay of {lowerDirectories.Count} layers", target, Marshal.GetLastPInvokeError(), context);
            }

            int mount = LibC.FsMount(context, FSMOUNT_CLOEXEC, upperDirectory is null ? MOUNT_ATTR_RDONLY : 0);
            if (mount < 0)
            {
                throw Failure("fsmount", target, Marshal.GetLastPInvokeError(), context);
            }

            try
            {
                if (LibC.MoveMount(mount, string.Empty, LibC.AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) != 0)
                {
                    throw Failure("move_mount", target, Marshal.GetLastPInvokeError(), -1);
                }
            }
            finally
            {
                LibC.Close(mount);
            }

            return true;
        }
        finally
        {
            LibC.Close(context);
        }
    }

    private static void Set(int context, string key, string value, string target)
    {
        if (LibC.FsConfig(context, FSCONFIG_SET_STRING, key, value, 0) != 0)
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
                int read = LibC.Read(context, buffer);
                if (read <= 0)
                {
                    break;
                }

                message.Append("; ").Append(Encoding.UTF8.GetString(buffer[..read]).TrimEnd('\n'));
            }
        }

        return new IOException(message.Append('.').ToString(), errno);
    }
}
