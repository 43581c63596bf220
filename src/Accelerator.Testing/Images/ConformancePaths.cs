namespace Accelerator.Testing.Images;

/// <summary>
/// The paths of <see cref="ConformanceImage"/>'s final root file system and what each one is. Tests of unpackers and
/// mounters check these items one by one (and compare whole trees against <c>umoci unpack</c>).
/// </summary>
public static class ConformancePaths
{
    /// <summary>Empty regular file.</summary>
    public const string EmptyFile = "files/empty";

    /// <summary>Small regular file, content <see cref="SmallFileContent"/>.</summary>
    public const string SmallFile = "files/small";

    /// <summary>The content of <see cref="SmallFile"/>.</summary>
    public const string SmallFileContent = "hello, conformance\n";

    /// <summary>Regular file of <see cref="LargeFileSize"/> pseudo-random bytes.</summary>
    public const string LargeFile = "files/large";

    /// <summary>The size of <see cref="LargeFile"/> (over 1 MiB, not a multiple of any block size).</summary>
    public const int LargeFileSize = (3 * 1024 * 1024 / 2) + 123;

    /// <summary>File with mode 04755.</summary>
    public const string SetuidFile = "modes/setuid";

    /// <summary>File with mode 02755.</summary>
    public const string SetgidFile = "modes/setgid";

    /// <summary>Directory with mode 02775.</summary>
    public const string SetgidDirectory = "modes/setgid-dir";

    /// <summary>Directory with mode 01777.</summary>
    public const string StickyDirectory = "modes/sticky";

    /// <summary>File owned by <see cref="UnusualUid"/>:<see cref="UnusualGid"/>, mode 0640.</summary>
    public const string OwnedFile = "modes/owned";

    /// <summary>Directory owned by <see cref="UnusualUid"/>:<see cref="UnusualGid"/>, mode 0750.</summary>
    public const string OwnedDirectory = "modes/owned-dir";

    /// <summary>The uid of the owned items.</summary>
    public const uint UnusualUid = 1234;

    /// <summary>The gid of the owned items.</summary>
    public const uint UnusualGid = 5678;

    /// <summary>File whose mtime is <see cref="SubsecondMtime"/>.</summary>
    public const string SubsecondMtimeFile = "times/subsecond";

    /// <summary>2001-02-03T04:05:06.123456789Z in nanoseconds since the epoch (kept whole by PAX headers).</summary>
    public const long SubsecondMtime = 981_173_106_123_456_789L;

    /// <summary>The mtime of every item not given another one: 2020-01-01T00:00:00Z, in nanoseconds.</summary>
    public const long DefaultMtime = 1_577_836_800_000_000_000L;

    /// <summary>File with xattrs: <c>user.comment</c>, <c>user.binary</c> (<see cref="BinaryXattrValue"/>), <c>trusted.test</c>, <c>security.test</c>.</summary>
    public const string XattrFile = "xattrs/file";

    /// <summary>Directory with the xattr <c>user.dir</c> = <c>d</c>.</summary>
    public const string XattrDirectory = "xattrs/dir";

    /// <summary>The value of <c>user.binary</c> on <see cref="XattrFile"/>: not text, contains NUL.</summary>
    public static ReadOnlySpan<byte> BinaryXattrValue => [0x00, 0xff, 0x7f, 0x80, 0x0a, 0x00, 0x01];

    /// <summary>Symlink to <c>/etc/hostname</c>.</summary>
    public const string AbsoluteSymlink = "links/absolute";

    /// <summary>Symlink to <c>../files/small</c>.</summary>
    public const string RelativeSymlink = "links/relative";

    /// <summary>Symlink to <c>does/not/exist</c>.</summary>
    public const string DanglingSymlink = "links/dangling";

    /// <summary>Symlink to <c>../../../etc/passwd</c>, pointing outside the root; must stay a symlink.</summary>
    public const string EscapingSymlink = "links/escape";

    /// <summary>Symlink to the directory <c>../files</c>.</summary>
    public const string DirectorySymlink = "links/dir";

    /// <summary>Three hard links to one inode, within the first layer.</summary>
    public static readonly IReadOnlyList<string> LayerHardlinks = ["hardlinks/first", "hardlinks/second", "hardlinks/third"];

    /// <summary>A file of the first layer, hard-linked from <see cref="CrossLayerHardlink"/>.</summary>
    public const string CrossLayerTarget = "lower/shared";

    /// <summary>A hard link in the second layer to <see cref="CrossLayerTarget"/> of the first layer.</summary>
    public const string CrossLayerHardlink = "upper/link-to-lower";

    /// <summary>Character device 1,3.</summary>
    public const string CharacterDevice = "devices/char";

    /// <summary>Block device 7,0.</summary>
    public const string BlockDevice = "devices/block";

    /// <summary>Named pipe.</summary>
    public const string Fifo = "devices/fifo";

    /// <summary>A file whose path is longer than 100 characters (PAX <c>path</c> record).</summary>
    public const string LongPathFile = "long/" + LongSegment + "/" + LongSegment + "/file-with-a-rather-long-name.txt";

    /// <summary>A symlink whose target is longer than 100 characters (PAX <c>linkpath</c> record).</summary>
    public const string LongTargetSymlink = "long/link";

    /// <summary>The target of <see cref="LongTargetSymlink"/> (relative, resolves to <see cref="LongPathFile"/>).</summary>
    public const string LongSymlinkTarget = LongSegment + "/" + LongSegment + "/file-with-a-rather-long-name.txt";

    /// <summary>A file whose path is longer than 100 characters, in the GNU-format layer (<c>././@LongLink</c>).</summary>
    public const string GnuLongPathFile = "long-gnu/" + LongSegment + "/" + LongSegment + "/gnu-long-name.txt";

    /// <summary>Sparse file of <see cref="SparseFileSize"/> bytes: zeros except 4 KiB of 'A' at 1 MiB and of 'B' at 6 MiB.</summary>
    public const string SparseFile = "sparse/file";

    /// <summary>The size of <see cref="SparseFile"/>.</summary>
    public const int SparseFileSize = 8 * 1024 * 1024;

    /// <summary>The data extents of <see cref="SparseFile"/>: (offset, length, byte value).</summary>
    public static readonly IReadOnlyList<(long Offset, int Length, byte Value)> SparseExtents = [(1024 * 1024, 4096, (byte)'A'), (6 * 1024 * 1024, 4096, (byte)'B')];

    /// <summary>A file of the first layer deleted by a whiteout in the second: absent.</summary>
    public const string WhitedOutFile = "lower/victim-file";

    /// <summary>A directory (with children) of the first layer deleted by a whiteout in the second: absent.</summary>
    public const string WhitedOutDirectory = "lower/victim-dir";

    /// <summary>A directory made opaque in the second layer: only <see cref="OpaqueNewFile"/> is in it.</summary>
    public const string OpaqueDirectory = "lower/opaque";

    /// <summary>The file the second layer puts in <see cref="OpaqueDirectory"/>.</summary>
    public const string OpaqueNewFile = "lower/opaque/new-file";

    /// <summary>The first layer's files in <see cref="OpaqueDirectory"/>, hidden by the opaque marker: absent.</summary>
    public static readonly IReadOnlyList<string> OpaqueHiddenPaths = ["lower/opaque/old-file", "lower/opaque/old-dir", "lower/opaque/old-dir/x"];

    /// <summary>A regular file in the first layer, a directory (containing <c>inner</c>) in the second.</summary>
    public const string FileReplacedByDirectory = "lower/file-to-dir";

    /// <summary>A directory (with a child) in the first layer, a regular file in the second.</summary>
    public const string DirectoryReplacedByFile = "lower/dir-to-file";

    /// <summary>A file added by the <c>umoci repack</c> layer.</summary>
    public const string RepackAddedFile = "repack/added";

    /// <summary>A file whose mode the <c>umoci repack</c> layer changes from 0644 to 0600.</summary>
    public const string RepackChmodFile = "repack/chmod-me";

    /// <summary>A first-layer file the <c>umoci repack</c> layer deletes (with a whiteout umoci writes): absent.</summary>
    public const string RepackDeletedFile = "repack/delete-me";

    private const string LongSegment = "a-directory-name-that-is-quite-long-so-that-paths-exceed-the-ustar-limit";
}
