using Accelerator.Linux;

namespace Accelerator.Testing.Interop;

/// <summary>
/// File operations that tests need to build and modify trees and that .NET lacks: hard links, device nodes, fifos,
/// ownership and nanosecond times of symlinks, extended attributes. Linux only (calls <see cref="LibC"/>); throw <see cref="IOException"/>.
/// </summary>
public static class UnixFile
{
    /// <summary>Creates a hard link <paramref name="linkPath"/> to the existing file <paramref name="existingPath"/>.</summary>
    public static void CreateHardLink(string existingPath, string linkPath) => LibC.Link(existingPath, linkPath);

    /// <summary>Creates a character device node (needs CAP_MKNOD).</summary>
    public static void CreateCharacterDevice(string path, uint major, uint minor, UnixFileMode permissions)
        => LibC.Mknod(path, LibC.S_IFCHR | (uint)permissions, major, minor);

    /// <summary>Creates a block device node (needs CAP_MKNOD).</summary>
    public static void CreateBlockDevice(string path, uint major, uint minor, UnixFileMode permissions)
        => LibC.Mknod(path, LibC.S_IFBLK | (uint)permissions, major, minor);

    /// <summary>Creates a named pipe.</summary>
    public static void CreateFifo(string path, UnixFileMode permissions) => LibC.Mknod(path, LibC.S_IFIFO | (uint)permissions, 0, 0);

    /// <summary>Sets the owner without following a symlink.</summary>
    public static void SetOwner(string path, uint uid, uint gid) => LibC.SetOwner(path, uid, gid);

    /// <summary>Sets access and modification time, in nanoseconds since the Unix epoch, without following a symlink.</summary>
    public static void SetModificationTime(string path, long unixNanoseconds) => LibC.SetModificationTime(path, unixNanoseconds);

    /// <summary>Sets an extended attribute (on the link itself for a symlink).</summary>
    public static void SetXattr(string path, string name, ReadOnlySpan<byte> value) => LibC.SetXattr(path, name, value);

    /// <summary>Removes an extended attribute.</summary>
    public static void RemoveXattr(string path, string name) => LibC.RemoveXattr(path, name);

    /// <summary>Reads an extended attribute, or null when absent.</summary>
    public static byte[]? GetXattr(string path, string name) => LibC.GetXattr(path, name);

    /// <summary>The extended attribute names of <paramref name="path"/>.</summary>
    public static IReadOnlyList<string> ListXattrs(string path) => LibC.ListXattrs(path);
}
