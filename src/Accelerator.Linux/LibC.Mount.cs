using System.Runtime.InteropServices;

namespace Accelerator.Linux;

/// <summary>mount(2) flags (<c>MS_*</c> of linux/mount.h), the same on every architecture.</summary>
[Flags]
public enum MountFlags : ulong
{
    /// <summary>No flags.</summary>
    None = 0,

    /// <summary><c>MS_RDONLY</c>.</summary>
    ReadOnly = 1,

    /// <summary><c>MS_NOSUID</c>.</summary>
    NoSetUid = 2,

    /// <summary><c>MS_NODEV</c>.</summary>
    NoDevices = 4,

    /// <summary><c>MS_REMOUNT</c>.</summary>
    Remount = 32,

    /// <summary><c>MS_BIND</c>.</summary>
    Bind = 4096,
}

/// <summary>umount2(2) flags (linux/fs.h, sys/mount.h).</summary>
[Flags]
public enum UnmountFlags
{
    /// <summary>No flags: fail with EBUSY while the mount is in use.</summary>
    None = 0,

    /// <summary><c>MNT_DETACH</c>: detach now, free when the last user is gone.</summary>
    Detach = 2,

    /// <summary><c>UMOUNT_NOFOLLOW</c>: do not follow a symbolic link at the target.</summary>
    NoFollow = 8,
}

public static unsafe partial class LibC
{
    [LibraryImport(Library, EntryPoint = "mount", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MountNative(string source, string target, string? fileSystemType, ulong flags, string? data);

    [LibraryImport(Library, EntryPoint = "umount2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Umount2Native(string target, int flags);

    [LibraryImport(Library, EntryPoint = "fsopen", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int FsOpen(string fileSystemName, uint flags);

    [LibraryImport(Library, EntryPoint = "fsconfig", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int FsConfig(int context, uint command, string? key, string? value, int auxiliary);

    [LibraryImport(Library, EntryPoint = "fsmount", SetLastError = true)]
    internal static partial int FsMount(int context, uint flags, uint attributes);

    [LibraryImport(Library, EntryPoint = "move_mount", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int MoveMount(int fromDirectory, string fromPath, int toDirectory, string toPath, uint flags);

    /// <summary>mount(2); returns 0 or errno.</summary>
    public static int Mount(string source, string target, string? fileSystemType, MountFlags flags, string? data)
        => MountNative(source, target, fileSystemType, (ulong)flags, data) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>umount2(2); returns 0 or errno.</summary>
    public static int Umount2(string target, UnmountFlags flags)
        => Umount2Native(target, (int)flags) == 0 ? 0 : Marshal.GetLastPInvokeError();
}
