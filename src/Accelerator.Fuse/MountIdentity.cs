using System.Globalization;
using Accelerator.Linux;

namespace Accelerator.Fuse;

/// <summary>A mount's device number, read from <c>/proc/self/mountinfo</c> (proc(5)) without touching the mount itself.</summary>
internal readonly record struct MountIdentity(uint Major, uint Minor)
{
    /// <summary>The most recent mount of <paramref name="fileSystemType"/> at <paramref name="mountPoint"/>, or null.</summary>
    public static MountIdentity? Find(string mountPoint, string fileSystemType) => Parse(MountTable.Read(), mountPoint, fileSystemType);

    /// <summary>Finds the last line for <paramref name="mountPoint"/> and <paramref name="fileSystemType"/> in mountinfo lines.</summary>
    internal static MountIdentity? Parse(IEnumerable<string> lines, string mountPoint, string fileSystemType)
        => Parse(MountTable.Parse(lines), mountPoint, fileSystemType);

    private static MountIdentity? Parse(IEnumerable<MountEntry> mounts, string mountPoint, string fileSystemType)
        => MountTable.Find(mounts, mountPoint, fileSystemType) is { } mount ? new MountIdentity(mount.Major, mount.Minor) : null;
}

/// <summary>The FUSE control file system (<c>fusectl</c>, Documentation/filesystems/fuse.rst "Control filesystem").</summary>
internal static class FuseConnections
{
    internal const string Root = "/sys/fs/fuse/connections";

    /// <summary>Writes to the connection's <c>abort</c> file, mounting fusectl first when it is not mounted.</summary>
    public static void Abort(uint connectionId)
    {
        string abort = Path.Combine(Root, connectionId.ToString(CultureInfo.InvariantCulture), "abort");
        if (!File.Exists(abort))
        {
            if (!MountTable.IsMountPoint(Root))
            {
                int errno = LibC.Mount("fusectl", Root, "fusectl", MountFlags.None, null);
                if (errno != 0 && errno != Errno.EBUSY)
                {
                    throw new IOException($"Cannot mount fusectl at {Root}: {LibC.Message(errno)}.", errno);
                }
            }

            if (!File.Exists(abort))
            {
                throw new IOException($"FUSE connection {connectionId} has no {abort} (already ended?).");
            }
        }

        File.WriteAllText(abort, "1");
    }
}
