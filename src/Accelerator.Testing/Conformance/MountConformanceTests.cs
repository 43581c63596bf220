using System.Diagnostics;
using System.Text;
using Accelerator.Testing.Images;
using Accelerator.Testing.Trees;
using Xunit;
using T = Accelerator.Testing.Conformance.MountConformanceTree;

namespace Accelerator.Testing.Conformance;

/// <summary>
/// A POSIX-style suite every read-only mount of a tree must pass (FUSE over a directory, a lazy image mount…): the
/// mounted tree equals its source entry by entry, reads at any offset and size (beyond 1 MiB, in parallel) return the
/// source bytes, standard tools (<c>ls</c>, <c>stat</c>, <c>getfattr</c>) see the same thing, xattr calls keep their
/// errno semantics, big directories list completely in small getdents calls, writes fail with EROFS. A test class per
/// implementation inherits it with an <see cref="IClassFixture{T}"/> of <see cref="MountConformanceTree"/> and says how
/// to mount a source directory; each test gets a fresh mount.
/// </summary>
public abstract class MountConformanceTests : IAsyncLifetime
{
    private readonly string _mountParent;
    private IAsyncDisposable? _mount;

    /// <summary>Creates the suite over the shared source tree.</summary>
    protected MountConformanceTests(MountConformanceTree tree)
    {
        ArgumentNullException.ThrowIfNull(tree);
        Tree = tree;
        _mountParent = Directory.CreateTempSubdirectory("accel-mount-").FullName;
        MountPoint = Path.Combine(_mountParent, "mnt");
        Directory.CreateDirectory(MountPoint);
    }

    /// <summary>The source tree.</summary>
    protected MountConformanceTree Tree { get; }

    /// <summary>Where the tree is mounted for the current test.</summary>
    protected string MountPoint { get; }

    /// <summary>How the whole-tree comparison is made; an implementation may leave out what it documents it does not keep.</summary>
    protected virtual TreeCompareOptions CompareOptions => new() { MtimeGranularityNanoseconds = TimestampGranularityNanoseconds };

    /// <summary>
    /// The precision of the timestamps the mount reports, in nanoseconds: 1 (exact) unless the implementation documents
    /// a coarser one. Timestamps are compared truncated to it.
    /// </summary>
    protected virtual int TimestampGranularityNanoseconds => 1;

    /// <summary>
    /// Whether statfs reports free blocks and inodes: false for image formats sized to their content (the default);
    /// true for a file system image that keeps free space, such as ext4 on a block device.
    /// </summary>
    protected virtual bool ReportsFreeSpace => false;

    /// <summary>Mounts (an image of) <paramref name="sourceDirectory"/> read-only at <paramref name="mountPoint"/>; disposing unmounts.</summary>
    protected abstract Task<IAsyncDisposable> MountAsync(string sourceDirectory, string mountPoint);

    /// <inheritdoc />
    public async Task InitializeAsync() => _mount = await MountAsync(Tree.Root, MountPoint);

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        if (_mount is not null)
        {
            await _mount.DisposeAsync();
        }

        Directory.Delete(_mountParent, recursive: true);
    }

    /// <summary>Every path, type, mode, owner, size, content, symlink target, device, xattr, mtime and hard-link group.</summary>
    [Fact]
    public void Snapshot_WholeTree_EqualsSource()
    {
        var differences = TreeSnapshot.Compare(Tree.Snapshot, TreeSnapshot.Capture(MountPoint), CompareOptions);

        Assert.Empty(differences);
    }

    /// <summary>Reads that start and end anywhere: page and MiB boundaries, past the end, larger than 1 MiB.</summary>
    [Theory]
    [InlineData(T.BigFile, 0, 1)]
    [InlineData(T.BigFile, 1, 4095)]
    [InlineData(T.BigFile, 4095, 2)]
    [InlineData(T.BigFile, 4096, 4096)]
    [InlineData(T.BigFile, 123_457, 1_048_577)]
    [InlineData(T.BigFile, 1_048_575, 3 * 1024 * 1024)]
    [InlineData(T.BigFile, 0, T.BigFileSize)]
    [InlineData(T.BigFile, T.BigFileSize - 10, 100)]
    [InlineData(T.BigFile, T.BigFileSize, 10)]
    [InlineData(T.BigFile, T.BigFileSize + 4096, 10)]
    [InlineData(T.MebibyteFile, 0, 2 * 1024 * 1024)]
    [InlineData(T.OddFile, 1024 * 1024, 4096)]
    [InlineData(T.SmallFile, 3, 1000)]
    public void Read_OffsetAndSize_ReturnsSourceBytes(string path, long offset, int length)
    {
        byte[] source = Tree.ReadSource(path);
        byte[] expected = offset >= source.Length ? [] : source.AsSpan((int)offset, (int)Math.Min(length, source.Length - offset)).ToArray();

        byte[] actual = ReadRange(Path.Combine(MountPoint, path), offset, length);

        Assert.True(expected.AsSpan().SequenceEqual(actual), $"{path} at {offset}+{length}: {actual.Length} bytes differ from the source's {expected.Length}");
    }

    /// <summary>Twenty threads reading random ranges of several files at once get exactly the source bytes.</summary>
    [Fact]
    public async Task Read_TwentyParallelReadersOfRandomRanges_ReturnSourceBytes()
    {
        string[] files = [T.BigFile, T.MebibyteFile, T.OddFile, T.PlainFile];
        var sources = files.ToDictionary(f => f, Tree.ReadSource);
        var readers = Enumerable.Range(0, 20).Select(seed => Task.Factory.StartNew(
            () =>
            {
                var random = new Random(seed);
                var mismatches = new List<string>();
                for (int i = 0; i < 40; i++)
                {
                    string file = files[random.Next(files.Length)];
                    byte[] source = sources[file];
                    int offset = random.Next(source.Length);
                    int length = random.Next(1, 2 * 1024 * 1024);
                    byte[] actual = ReadRange(Path.Combine(MountPoint, file), offset, length);
                    if (!source.AsSpan(offset, Math.Min(length, source.Length - offset)).SequenceEqual(actual))
                    {
                        mismatches.Add($"{file} at {offset}+{length}");
                    }
                }

                return mismatches;
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default)).ToList();

        var results = await Task.WhenAll(readers);

        Assert.Empty(results.SelectMany(r => r));
    }

    /// <summary><c>ls -la</c> of each directory prints the same lines (directory sizes aside: image formats choose their own).</summary>
    [Theory]
    [InlineData("files")]
    [InlineData("modes")]
    [InlineData("times")]
    [InlineData("xattrs")]
    [InlineData("links")]
    [InlineData("hardlinks")]
    [InlineData("devices")]
    [InlineData("names")]
    [InlineData(".")]
    public async Task Ls_Directory_PrintsSameAsSource(string directory)
    {
        var expected = await ListAsync(Path.Combine(Tree.Root, directory), TimestampGranularityNanoseconds);

        var actual = await ListAsync(Path.Combine(MountPoint, directory), TimestampGranularityNanoseconds);

        Assert.Equal(expected, actual);
    }

    /// <summary><c>stat</c> of every path outside the big directory prints the same fields.</summary>
    [Fact]
    public async Task Stat_EveryPath_PrintsSameAsSource()
    {
        var paths = Tree.Snapshot.Entries.Keys.Where(p => !p.StartsWith(T.ManyDirectory + "/", StringComparison.Ordinal)).ToList();
        var directories = paths.Where(p => Tree.Snapshot.Entries[p].Type == TreeEntryType.Directory).ToList();
        var others = paths.Except(directories).ToList();
        const string common = "%n|%F|%a|%A|%u|%g|%h|%t|%T|%y|%Y";

        int g = TimestampGranularityNanoseconds;
        Assert.Equal(await StatAsync(Tree.Root, common + "|%s", others, g), await StatAsync(MountPoint, common + "|%s", others, g));
        Assert.Equal(await StatAsync(Tree.Root, common, directories, g), await StatAsync(MountPoint, common, directories, g));
    }

    /// <summary><c>getfattr -d -m -</c> dumps the same attributes in the same encoding.</summary>
    [Fact]
    public async Task Getfattr_XattrPaths_PrintsSameAsSource()
    {
        string[] paths = [T.XattrFile, T.ManyXattrsFile, T.LargeXattrFile, "xattrs/dir", "xattrs/link", T.PlainFile];
        string[] arguments = ["-h", "-d", "-m", "-", "-e", "hex", .. paths];

        string expected = await ExternalTool.RunAsync("getfattr", arguments, Tree.Root);
        string actual = await ExternalTool.RunAsync("getfattr", arguments, MountPoint);

        Assert.Equal(expected, actual);
        Assert.Contains("user.binary=0x00ff7f800a0001", actual, StringComparison.Ordinal);
    }

    /// <summary>getxattr with size 0 returns the length; a buffer one byte short fails with ERANGE; an exact one gets the value.</summary>
    [Fact]
    public void Getxattr_SizeQueryShortAndExactBuffers_FollowGetxattrSemantics()
    {
        string path = Path.Combine(MountPoint, T.LargeXattrFile);
        byte[] value = Interop.UnixFile.GetXattr(Path.Combine(Tree.Root, T.LargeXattrFile), "user.large")!;

        var size = PosixCalls.LGetXattr(path, "user.large", 0);
        var shortBuffer = PosixCalls.LGetXattr(path, "user.large", value.Length - 1);
        var exact = PosixCalls.LGetXattr(path, "user.large", value.Length);

        Assert.Equal((value.Length, 0), (size.Result, size.Errno));
        Assert.Equal((-1L, PosixCalls.ERANGE), (shortBuffer.Result, shortBuffer.Errno));
        Assert.Equal(value, exact.Value);
    }

    /// <summary>A missing attribute is ENODATA, on a file with attributes and on one without.</summary>
    [Theory]
    [InlineData(T.XattrFile)]
    [InlineData(T.PlainFile)]
    public void Getxattr_MissingName_FailsWithEnodata(string file)
    {
        var result = PosixCalls.LGetXattr(Path.Combine(MountPoint, file), "user.not-there", 100);

        Assert.Equal((-1L, PosixCalls.ENODATA), (result.Result, result.Errno));
    }

    /// <summary>listxattr: size query, ERANGE for a short buffer, and the same names as the source.</summary>
    [Fact]
    public void Listxattr_ManyNames_FollowsListxattrSemanticsAndMatchesSource()
    {
        string path = Path.Combine(MountPoint, T.ManyXattrsFile);
        var size = PosixCalls.LListXattr(path, 0);
        var shortBuffer = PosixCalls.LListXattr(path, (int)size.Result - 1);
        var full = PosixCalls.LListXattr(path, (int)size.Result);
        var expected = PosixCalls.LListXattr(Path.Combine(Tree.Root, T.ManyXattrsFile), 65536);

        Assert.Equal((-1L, PosixCalls.ERANGE), (shortBuffer.Result, shortBuffer.Errno));
        Assert.Equal(Names(expected.List), Names(full.List));
        Assert.Equal(40, Names(full.List).Count);
        Assert.Empty(Names(PosixCalls.LListXattr(Path.Combine(MountPoint, T.PlainFile), 100).List));

        static List<string> Names(byte[] list) => Encoding.UTF8.GetString(list).Split('\0', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>A directory of 5000 entries lists completely, each name once, through getdents calls of 1 KiB.</summary>
    [Fact]
    public void Readdir_FiveThousandEntriesInSmallCalls_ListsEveryNameOnce()
    {
        var expected = new[] { ".", ".." }.Concat(Enumerable.Range(0, T.ManyCount).Select(i => $"entry-{i:D4}")).Order(StringComparer.Ordinal).ToList();

        var names = PosixCalls.ReadDirectoryNames(Path.Combine(MountPoint, T.ManyDirectory), 1024);

        Assert.Equal(expected, names.Order(StringComparer.Ordinal).ToList());
    }

    /// <summary>Listing the big directory again (cached by now) and through .NET gives the same names.</summary>
    [Fact]
    public void Readdir_Repeated_ListsTheSameNames()
    {
        string path = Path.Combine(MountPoint, T.ManyDirectory);
        var first = Directory.GetFileSystemEntries(path).Order(StringComparer.Ordinal).ToList();
        var second = PosixCalls.ReadDirectoryNames(path, 32768).Where(n => n is not "." and not "..").Select(n => Path.Combine(path, n)).Order(StringComparer.Ordinal).ToList();

        Assert.Equal(T.ManyCount, first.Count);
        Assert.Equal(first, second);
    }

    /// <summary>Opening and closing files and directories many times keeps working and reading the right bytes.</summary>
    [Fact]
    public void OpenClose_ManyTimes_KeepsServing()
    {
        string file = Path.Combine(MountPoint, T.SmallFile);
        string directory = Path.Combine(MountPoint, "files");
        for (int i = 0; i < 1000; i++)
        {
            Assert.Equal(T.SmallContent, File.ReadAllText(file));
            if (i % 5 == 0)
            {
                Assert.Equal(7, Directory.GetFileSystemEntries(directory).Length);
            }
        }
    }

    /// <summary>statfs: totals cover the content, nothing is free, names up to 255 bytes.</summary>
    [Fact]
    public async Task Statfs_Mount_ReportsContentTotalsAndNoFreeSpace()
    {
        string output = await ExternalTool.RunAsync("stat", ["-f", "-c", "%S %b %f %a %c %l", MountPoint]);
        long[] f = output.Trim().Split(' ').Select(long.Parse).ToArray();
        long blockSize = f[0], blocks = f[1], free = f[2], available = f[3], files = f[4], nameMax = f[5];
        long content = Tree.Snapshot.Entries.Values.Where(e => e.Type == TreeEntryType.RegularFile).DistinctBy(e => e.HardlinkGroup.Count > 0 ? e.HardlinkGroup[0] : e.Path).Sum(e => e.Size);

        Assert.True(blockSize > 0 && blocks * blockSize >= content, $"{blocks} blocks of {blockSize} cannot hold {content} bytes");
        if (!ReportsFreeSpace)
        {
            Assert.Equal((0L, 0L), (free, available));
        }

        Assert.True(files >= Tree.Snapshot.Entries.Count - 2, $"{files} inodes for {Tree.Snapshot.Entries.Count} paths");
        Assert.Equal(255, nameMax);
    }

    /// <summary>Creating, truncating, writing, removing, chmod and setxattr all fail with EROFS.</summary>
    [Fact]
    public void Modify_AnyWay_FailsReadOnly()
    {
        string file = Path.Combine(MountPoint, T.SmallFile);

        Assert.Equal(PosixCalls.EROFS, PosixCalls.TryOpen(Path.Combine(MountPoint, "files/new"), PosixCalls.O_WRONLY | PosixCalls.O_CREAT));
        Assert.Equal(PosixCalls.EROFS, PosixCalls.TryOpen(file, PosixCalls.O_RDWR));
        Assert.Equal(PosixCalls.EROFS, PosixCalls.TryOpen(file, PosixCalls.O_WRONLY | PosixCalls.O_TRUNC));
        Assert.Equal(PosixCalls.EROFS, PosixCalls.Mkdir(Path.Combine(MountPoint, "new-dir")));
        Assert.Equal(PosixCalls.EROFS, PosixCalls.Unlink(file));
        Assert.Equal(PosixCalls.EROFS, PosixCalls.Chmod(file, 0x1FF));
        Assert.Equal(PosixCalls.EROFS, PosixCalls.LSetXattr(file, "user.new", "x"u8));
        Assert.Equal(T.SmallContent, File.ReadAllText(file));
    }

    /// <summary>Missing names are not found, also when asked again (a negative entry may be cached).</summary>
    [Fact]
    public void Lookup_MissingName_IsNotFoundEveryTime()
    {
        string missing = Path.Combine(MountPoint, "files", "missing");

        for (int i = 0; i < 3; i++)
        {
            Assert.False(Path.Exists(missing));
            Assert.Equal(PosixCalls.ENOENT, PosixCalls.TryOpen(missing, PosixCalls.O_RDONLY));
        }

        Assert.False(Path.Exists(Path.Combine(MountPoint, "no-such-dir", "child")));
    }

    /// <summary>Symlinks resolve inside the mount; a dangling one stays a link to nothing.</summary>
    [Fact]
    public void Symlink_Followed_ReadsTargetInsideMount()
    {
        Assert.Equal(T.SmallContent, File.ReadAllText(Path.Combine(MountPoint, T.RelativeSymlink)));
        Assert.Equal(7, Directory.GetFileSystemEntries(Path.Combine(MountPoint, "links/dir")).Length);
        Assert.Equal("does/not/exist", new FileInfo(Path.Combine(MountPoint, "links/dangling")).LinkTarget);
        Assert.Equal(PosixCalls.ENOENT, PosixCalls.TryOpen(Path.Combine(MountPoint, "links/dangling"), PosixCalls.O_RDONLY));
    }

    /// <summary>A program in the mount runs (exec maps its pages through the mount).</summary>
    [Fact]
    public async Task Exec_ProgramInMount_Runs()
    {
        using var process = Process.Start(new ProcessStartInfo(Path.Combine(MountPoint, T.Executable)) { UseShellExecute = false })!;
        await process.WaitForExitAsync();

        Assert.Equal(0, process.ExitCode);
        Assert.Equal("script\n", await ExternalTool.RunAsync("sh", [Path.Combine(MountPoint, "modes/script")]));
    }

    /// <summary>Reads [offset, offset + length) with pread until the end of the range or file.</summary>
    protected static byte[] ReadRange(string path, long offset, int length)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
        byte[] buffer = new byte[length];
        int total = 0;
        while (total < length)
        {
            int n = RandomAccess.Read(handle, buffer.AsSpan(total), offset + total);
            if (n == 0)
            {
                break;
            }

            total += n;
        }

        return buffer[..total];
    }

    private static async Task<List<string>> ListAsync(string directory, int granularity)
    {
        string output = await ExternalTool.RunAsync("ls", ["-la", "--time-style=full-iso", directory], Path.GetTempPath());
        var lines = new List<string>();
        foreach (string line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (line.StartsWith("total ", StringComparison.Ordinal) || fields.Length < 9 || fields[8] is "." or "..")
            {
                continue;
            }

            // mode links owner group size date time zone name…: drop a directory's size.
            string kept = line.StartsWith('d') ? string.Join(' ', fields.Take(4).Concat(fields.Skip(5))) : string.Join(' ', fields);
            lines.Add(TruncateFractions(kept, granularity));
        }

        return lines;
    }

    private static async Task<string> StatAsync(string root, string format, IReadOnlyList<string> paths, int granularity)
        => TruncateFractions(await ExternalTool.RunAsync("stat", ["-c", format, "--", .. paths], root), granularity);

    // Cuts the nine-digit fractions of seconds that ls --full-iso and stat print down to the granularity's digits.
    private static string TruncateFractions(string text, int granularity)
    {
        int digits = 9 - (int)Math.Round(Math.Log10(Math.Max(1, granularity)));
        return digits >= 9 ? text : System.Text.RegularExpressions.Regex.Replace(text, @"(\d{2}:\d{2}:\d{2}\.\d{" + digits + @"})\d{" + (9 - digits) + "}", "$1");
    }
}
