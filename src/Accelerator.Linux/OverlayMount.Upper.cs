namespace Accelerator.Linux;

public static partial class OverlayMount
{
    // overlayfs shows a merged directory with its upper directory's owner, mode and times (overlayfs.rst, "Directories"),
    // so a new, empty upper root would replace the image root's attributes with those of the directory just created.
    // It takes the topmost lower root's attributes instead; an upper that already holds writes is left as it is.
    private static void InheritRootAttributes(string lowerDirectory, string upperDirectory)
    {
        // A missing lower (or upper) directory is left for the mount to report.
        if (LibC.Lstat(LibC.AT_FDCWD, lowerDirectory) is not { IsDirectory: true } lower
            || !Directory.Exists(upperDirectory) || Directory.EnumerateFileSystemEntries(upperDirectory).Any())
        {
            return;
        }

        LibC.Check(LibC.FchownAt(LibC.AT_FDCWD, upperDirectory, lower.Uid, lower.Gid, LibC.AT_SYMLINK_NOFOLLOW), "chown", upperDirectory);
        LibC.Check(LibC.FchmodAt(LibC.AT_FDCWD, upperDirectory, lower.Mode & 0xFFF, 0), "chmod", upperDirectory);
        LibC.SetModificationTime(upperDirectory, lower.MtimeSeconds, lower.MtimeNanoseconds);
    }
}
