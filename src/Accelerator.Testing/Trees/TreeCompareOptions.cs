namespace Accelerator.Testing.Trees;

/// <summary>The fields <see cref="TreeSnapshot.Compare"/> looks at.</summary>
[Flags]
public enum TreeFields
{
    /// <summary>Only presence and type.</summary>
    None = 0,

    /// <summary>Permission bits including setuid, setgid and sticky.</summary>
    Permissions = 1 << 0,

    /// <summary>uid and gid.</summary>
    Owner = 1 << 1,

    /// <summary>Size of regular files.</summary>
    Size = 1 << 2,

    /// <summary>sha256 of regular files' content.</summary>
    Content = 1 << 3,

    /// <summary>Symlink targets.</summary>
    SymlinkTarget = 1 << 4,

    /// <summary>Device major and minor numbers.</summary>
    Device = 1 << 5,

    /// <summary>Extended attributes.</summary>
    Xattrs = 1 << 6,

    /// <summary>Modification time of everything but directories.</summary>
    Mtime = 1 << 7,

    /// <summary>Modification time of directories.</summary>
    DirectoryMtime = 1 << 8,

    /// <summary>Hard-link groups.</summary>
    Hardlinks = 1 << 9,

    /// <summary>Allocated size of regular files (sparseness); not in <see cref="Default"/>.</summary>
    AllocatedSize = 1 << 10,

    /// <summary>Everything except <see cref="AllocatedSize"/>.</summary>
    Default = Permissions | Owner | Size | Content | SymlinkTarget | Device | Xattrs | Mtime | DirectoryMtime | Hardlinks,
}

/// <summary>Options of <see cref="TreeSnapshot.Compare"/>.</summary>
public sealed record TreeCompareOptions
{
    /// <summary>The fields compared. <value>Default: <see cref="TreeFields.Default"/>.</value></summary>
    public TreeFields Fields { get; init; } = TreeFields.Default;

    /// <summary>
    /// The precision of modification times in nanoseconds (1 000 000 000 compares whole seconds). When null, each pair is
    /// compared at the coarser precision the two values evidently have. <value>Default: null.</value>
    /// </summary>
    public long? MtimeGranularityNanoseconds { get; init; }

    /// <summary>Paths (relative, <c>/</c>-separated) to leave out entirely. <value>Default: none.</value></summary>
    public Func<string, bool>? IgnorePath { get; init; }

    /// <summary>Extended attribute names to leave out (e.g. <c>security.selinux</c>). <value>Default: none.</value></summary>
    public Func<string, bool>? IgnoreXattr { get; init; }

    /// <summary>Returns a copy without the given fields.</summary>
    public TreeCompareOptions Without(TreeFields fields) => this with { Fields = Fields & ~fields };
}

/// <summary>One difference found by <see cref="TreeSnapshot.Compare"/>.</summary>
/// <param name="Path">The relative path.</param>
/// <param name="Field">What differs: <c>presence</c>, <c>type</c>, <c>mode</c>, <c>owner</c>, <c>size</c>, <c>sha256</c>,
/// <c>allocated</c>, <c>target</c>, <c>device</c>, <c>xattr NAME</c>, <c>mtime</c> or <c>hardlinks</c>.</param>
/// <param name="Expected">The expected value, formatted.</param>
/// <param name="Actual">The actual value, formatted.</param>
public sealed record TreeDifference(string Path, string Field, string Expected, string Actual)
{
    /// <inheritdoc />
    public override string ToString() => $"{Path}: {Field} expected {Expected} got {Actual}";
}
