using System.Text;
using Accelerator.Linux;
using Accelerator.Oci.Layers;
using Accelerator.Oci.Model;
using Accelerator.Testing.Tar;

namespace Accelerator.Oci.Tests.Layers;

public sealed class LayerApplierTests
{
    private static readonly UnixFileMode SetUidExec = (UnixFileMode)Convert.ToInt32("4755", 8);
    private static readonly UnixFileMode StickyDir = (UnixFileMode)Convert.ToInt32("1777", 8);
    private static readonly UnixFileMode SetGidDir = (UnixFileMode)Convert.ToInt32("2750", 8);

    [Fact]
    public async Task ApplyAsync_EveryKindAndAttribute_KeptExactly()
    {
        using var dir = new LayerTestDirectory();
        byte[] capability = [0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00];
        string longName = "deep/" + new string('n', 150) + "/file";
        byte[] layer = new TarBuilder()
            .AddDirectory("tmp", StickyDir, uid: 0, gid: 0, modificationTime: 1_600_000_000)
            .AddDirectory("srv", SetGidDir, uid: 1000, gid: 2000, modificationTime: 1_500_000_000)
            .AddFile("bin/su", "binary"u8.ToArray(), SetUidExec, uid: 0, gid: 0,
                xattrs: new Dictionary<string, byte[]> { ["security.capability"] = capability, ["user.note"] = [0x00, 0xFF, 0x80] },
                modificationTime: 1_700_000_123, nanoseconds: 123_456_789)
            .AddFile("home/user/file", "owned"u8.ToArray(), (UnixFileMode)Convert.ToInt32("640", 8), uid: 1234, gid: 5678)
            .AddFile(longName, "long")
            .AddSymlink("bin/link", "su", uid: 1234, gid: 5678, modificationTime: 1_234_567_890)
            .AddHardLink("bin/hard", "bin/su")
            .AddCharacterDevice("dev/null", 1, 3)
            .AddBlockDevice("dev/loop7", 7, 7)
            .AddFifo("run/fifo")
            .Add(new TarBuilderEntry { Path = "big-ids", Uid = 3_000_000_000, Gid = 4_000_000_000, Data = "x"u8.ToArray() })
            .ToArray();

        LayerApplyReport report = await dir.ApplyAsync(layer);

        FileStatus su = LayerTestDirectory.Stat(dir.InRoot("bin/su"));
        Assert.Equal(LibC.S_IFREG | Convert.ToUInt32("4755", 8), su.Mode);
        Assert.Equal(1_700_000_123, su.MtimeSeconds);
        Assert.Equal(123_456_789u, su.MtimeNanoseconds);
        Assert.Equal(2u, su.Nlink);
        Assert.Equal(capability, LayerTestDirectory.GetXattr(dir.InRoot("bin/su"), "security.capability"));
        Assert.Equal(new byte[] { 0x00, 0xFF, 0x80 }, LayerTestDirectory.GetXattr(dir.InRoot("bin/su"), "user.note"));
        Assert.Equal(su.Inode, LayerTestDirectory.Stat(dir.InRoot("bin/hard")).Inode);

        FileStatus tmp = LayerTestDirectory.Stat(dir.InRoot("tmp"));
        Assert.Equal(LibC.S_IFDIR | Convert.ToUInt32("1777", 8), tmp.Mode);
        Assert.Equal(1_600_000_000, tmp.MtimeSeconds);
        FileStatus srv = LayerTestDirectory.Stat(dir.InRoot("srv"));
        Assert.Equal(LibC.S_IFDIR | Convert.ToUInt32("2750", 8), srv.Mode);
        Assert.Equal((1000u, 2000u), (srv.Uid, srv.Gid));

        FileStatus owned = LayerTestDirectory.Stat(dir.InRoot("home/user/file"));
        Assert.Equal((1234u, 5678u), (owned.Uid, owned.Gid));
        Assert.Equal(LibC.S_IFREG | Convert.ToUInt32("640", 8), owned.Mode);
        Assert.Equal("long", File.ReadAllText(dir.InRoot(longName)));

        FileStatus link = LayerTestDirectory.Stat(dir.InRoot("bin/link"));
        Assert.True(link.IsSymbolicLink);
        Assert.Equal((1234u, 5678u), (link.Uid, link.Gid));
        Assert.Equal(1_234_567_890, link.MtimeSeconds);
        Assert.Equal("su", new FileInfo(dir.InRoot("bin/link")).LinkTarget);

        FileStatus nul = LayerTestDirectory.Stat(dir.InRoot("dev/null"));
        Assert.Equal(LibC.S_IFCHR, nul.Type);
        Assert.Equal((1u, 3u), (nul.RdevMajor, nul.RdevMinor));
        FileStatus loop = LayerTestDirectory.Stat(dir.InRoot("dev/loop7"));
        Assert.Equal(LibC.S_IFBLK, loop.Type);
        Assert.Equal((7u, 7u), (loop.RdevMajor, loop.RdevMinor));
        Assert.Equal(LibC.S_IFIFO, LayerTestDirectory.Stat(dir.InRoot("run/fifo")).Type);

        FileStatus bigIds = LayerTestDirectory.Stat(dir.InRoot("big-ids"));
        Assert.Equal((3_000_000_000u, 4_000_000_000u), (bigIds.Uid, bigIds.Gid));

        Assert.Equal(11, report.Entries);
        Assert.Equal(4, report.Files);
        Assert.Equal(2, report.Links);
        Assert.Equal(3, report.SpecialFiles);
        Assert.Equal(6 + 5 + 4 + 1, report.BytesWritten);
        dir.AssertOutsideUnchanged();
    }

    [Fact]
    public async Task ApplyAsync_DirectoryTimes_SetAfterChildren()
    {
        using var dir = new LayerTestDirectory();
        await dir.ApplyAsync(new TarBuilder()
            .AddDirectory("./", modificationTime: 1_000_000_000)
            .AddDirectory("a", modificationTime: 1_100_000_000)
            .AddFile("a/one", "1")
            .AddDirectory("a/b", modificationTime: 1_200_000_000)
            .AddFile("a/b/two", "2")
            .ToArray());

        Assert.Equal(1_100_000_000, LayerTestDirectory.Stat(dir.InRoot("a")).MtimeSeconds);
        Assert.Equal(1_200_000_000, LayerTestDirectory.Stat(dir.InRoot("a/b")).MtimeSeconds);
        Assert.Equal(1_000_000_000, LayerTestDirectory.Stat(dir.Root).MtimeSeconds);
    }

    [Fact]
    public async Task ApplyAsync_UpperLayerChangesUnlistedDirectory_KeepsLowerTime()
    {
        using var dir = new LayerTestDirectory();
        await dir.ApplyAsync(new TarBuilder()
            .AddDirectory("./", modificationTime: 1_000_000_000)
            .AddDirectory("d", modificationTime: 1_100_000_000)
            .AddFile("d/gone", "lower")
            .AddDirectory("e", modificationTime: 1_200_000_000)
            .ToArray());

        // The upper layer adds and removes names in d, creates e/new/deep, and adds at the root, listing none of them.
        await dir.ApplyAsync(new TarBuilder()
            .AddFile("d/added", "upper")
            .AddWhiteout("d/gone")
            .AddFile("e/new/deep", "x")
            .AddFile("top", "t")
            .ToArray());

        Assert.Equal(1_100_000_000, LayerTestDirectory.Stat(dir.InRoot("d")).MtimeSeconds);
        Assert.Equal(1_200_000_000, LayerTestDirectory.Stat(dir.InRoot("e")).MtimeSeconds);
        Assert.Equal(1_000_000_000, LayerTestDirectory.Stat(dir.Root).MtimeSeconds);
        Assert.True(File.Exists(dir.InRoot("d/added")));
        Assert.False(File.Exists(dir.InRoot("d/gone")));
    }

    [Fact]
    public async Task ApplyAsync_AddThroughSymlinkedDirectory_KeepsRealDirectoryTime()
    {
        using var dir = new LayerTestDirectory();
        await dir.ApplyAsync(new TarBuilder()
            .AddDirectory("usr", modificationTime: 1_000_000_000)
            .AddDirectory("usr/lib", modificationTime: 1_100_000_000)
            .AddSymlink("lib", "usr/lib")
            .ToArray());
        long linkTime = LayerTestDirectory.Stat(dir.InRoot("lib")).MtimeSeconds;

        await dir.ApplyAsync(new TarBuilder().AddFile("lib/added", "through the link").ToArray());

        Assert.True(File.Exists(dir.InRoot("usr/lib/added")));
        Assert.Equal(1_100_000_000, LayerTestDirectory.Stat(dir.InRoot("usr/lib")).MtimeSeconds);
        Assert.Equal(linkTime, LayerTestDirectory.Stat(dir.InRoot("lib")).MtimeSeconds);
    }

    [Fact]
    public async Task ApplyAsync_WhiteoutsAndOpaqueAcrossLayers_MergedAsOverlay()
    {
        using var dir = new LayerTestDirectory();
        await dir.ApplyAsync(new TarBuilder()
            .AddDirectory("etc").AddFile("etc/keep", "k").AddFile("etc/gone", "g")
            .AddDirectory("etc/sub").AddFile("etc/sub/deep", "d")
            .AddDirectory("opt").AddFile("opt/old1", "o").AddDirectory("opt/olddir").AddFile("opt/olddir/x", "x")
            .AddSymlink("lnk", "/etc")
            .ToArray());
        await dir.ApplyAsync(new TarBuilder()
            .AddWhiteout("etc/gone")
            .AddWhiteout("etc/sub")
            .AddWhiteout("lnk")
            .AddWhiteout("etc/never-existed")
            .AddDirectory("opt").AddFile("opt/new-before", "nb")
            .AddOpaque("opt")
            .AddFile("opt/new-after", "na")
            .AddFile("opt/.wh..wh.plnk", "aufs")
            .ToArray());
        await dir.ApplyAsync(new TarBuilder()
            .AddFile("etc/gone", "back")
            .AddOpaque("srv")
            .ToArray());

        Assert.Equal("k", File.ReadAllText(dir.InRoot("etc/keep")));
        Assert.Equal("back", File.ReadAllText(dir.InRoot("etc/gone")));
        Assert.False(Directory.Exists(dir.InRoot("etc/sub")));
        Assert.False(File.Exists(dir.InRoot("lnk")) || Directory.Exists(dir.InRoot("lnk")));
        Assert.Equal(["new-after", "new-before"], Directory.EnumerateFileSystemEntries(dir.InRoot("opt")).Select(p => Path.GetFileName(p)!).Order(StringComparer.Ordinal));
        Assert.True(Directory.Exists(dir.InRoot("srv")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir.Root, ".wh.*", SearchOption.AllDirectories));
        dir.AssertOutsideUnchanged();
    }

    [Fact]
    public async Task ApplyAsync_OpaqueKeepsThisLayersSubtreeAndRemovesLowerOnes()
    {
        using var dir = new LayerTestDirectory();
        await dir.ApplyAsync(new TarBuilder().AddFile("d/sub/lower", "l").AddFile("d/other", "o").ToArray());
        await dir.ApplyAsync(new TarBuilder().AddFile("d/sub/upper", "u").AddOpaque("d").ToArray());

        Assert.True(File.Exists(dir.InRoot("d/sub/upper")));
        Assert.False(File.Exists(dir.InRoot("d/sub/lower")));
        Assert.False(File.Exists(dir.InRoot("d/other")));
    }

    [Fact]
    public async Task ApplyAsync_HardlinkToLowerLayerFile_SharesInode()
    {
        using var dir = new LayerTestDirectory();
        await dir.ApplyAsync(new TarBuilder().AddFile("usr/bin/python3.11", "interpreter").ToArray());
        await dir.ApplyAsync(new TarBuilder().AddHardLink("usr/bin/python3", "usr/bin/python3.11").ToArray());

        Assert.Equal(LayerTestDirectory.Stat(dir.InRoot("usr/bin/python3.11")).Inode, LayerTestDirectory.Stat(dir.InRoot("usr/bin/python3")).Inode);
        Assert.Equal("interpreter", File.ReadAllText(dir.InRoot("usr/bin/python3")));
    }

    [Fact]
    public async Task ApplyAsync_ReplacesExistingEntriesOfAnotherKind()
    {
        using var dir = new LayerTestDirectory();
        await dir.ApplyAsync(new TarBuilder().AddFile("a", "file").AddDirectory("b").AddFile("b/x", "x").AddSymlink("c", "/nowhere").ToArray());
        await dir.ApplyAsync(new TarBuilder().AddDirectory("a").AddFile("b", "now a file").AddDirectory("c").AddFile("c/y", "y").ToArray());

        Assert.True(Directory.Exists(dir.InRoot("a")));
        Assert.Equal("now a file", File.ReadAllText(dir.InRoot("b")));
        Assert.Equal("y", File.ReadAllText(dir.InRoot("c/y")));
        Assert.False(LayerTestDirectory.Stat(dir.InRoot("c")).IsSymbolicLink);
    }

    [Theory]
    [InlineData(TarSparseFormat.GnuOld)]
    [InlineData(TarSparseFormat.Pax00)]
    [InlineData(TarSparseFormat.Pax01)]
    [InlineData(TarSparseFormat.Pax10)]
    public async Task ApplyAsync_SparseFile_KeepsContentAndHoles(TarSparseFormat format)
    {
        using var dir = new LayerTestDirectory();
        const long size = 64L << 20;
        byte[] a = Encoding.ASCII.GetBytes(new string('a', 5000));
        byte[] b = Encoding.ASCII.GetBytes(new string('b', 4096));
        var segments = new List<(long, byte[])> { (4096, a), (32L << 20, b) };
        for (int i = 0; i < 6; i++)
        {
            segments.Add(((40L << 20) + (i * 1_048_576L), [(byte)('0' + i)]));
        }

        segments.Add((size, []));
        await dir.ApplyAsync(new TarBuilder(gnuFormat: format == TarSparseFormat.GnuOld).AddSparseFile("sparse.img", size, segments, format).ToArray());

        string path = dir.InRoot("sparse.img");
        FileStatus status = LayerTestDirectory.Stat(path);
        Assert.Equal(size, status.Size);
        Assert.True(status.Blocks * 512 < 1 << 20, $"allocated {status.Blocks * 512} bytes");
        using FileStream file = File.OpenRead(path);
        foreach (var (offset, data) in segments)
        {
            byte[] read = new byte[data.Length];
            file.Position = offset;
            file.ReadExactly(read);
            Assert.Equal(data, read);
        }

        byte[] hole = new byte[4096];
        file.Position = 0;
        file.ReadExactly(hole);
        Assert.All(hole, x => Assert.Equal(0, x));
    }

    [Fact]
    public async Task ApplyAsync_WithoutOwnership_LeavesFilesToCurrentUser()
    {
        using var dir = new LayerTestDirectory();
        await dir.ApplyAsync(new TarBuilder().AddFile("f", "x"u8.ToArray(), uid: 4321, gid: 4321).ToArray(), new LayerApplyOptions { PreserveOwnership = false });
        Assert.Equal(LibC.Geteuid(), LayerTestDirectory.Stat(dir.InRoot("f")).Uid);
    }

    [Fact]
    public async Task ApplyAsync_TooManyEntries_ThrowsContentTooLarge()
    {
        using var dir = new LayerTestDirectory();
        var builder = new TarBuilder();
        for (int i = 0; i < 20; i++)
        {
            builder.AddFile($"f{i}", "x");
        }

        await Assert.ThrowsAsync<ContentTooLargeException>(() => dir.ApplyAsync(builder.ToArray(), new LayerApplyOptions { MaxEntries = 10 }));
    }

    [Theory]
    [InlineData(LayerCompression.None)]
    [InlineData(LayerCompression.Gzip)]
    [InlineData(LayerCompression.Zstd)]
    public async Task ApplyAsync_EachCompression_DetectedAndApplied(LayerCompression compression)
    {
        using var dir = new LayerTestDirectory();
        var builder = new TarBuilder().AddFile("hello", "world");
        byte[] blob = compression switch
        {
            LayerCompression.Gzip => builder.ToGzip(),
            LayerCompression.Zstd => builder.ToZstd(),
            _ => builder.ToArray(),
        };

        await LayerApplier.ApplyAsync(new MemoryStream(blob), compression, dir.Root);
        await LayerApplier.ApplyAsync(new MemoryStream(blob), null, dir.Root);
        Assert.Equal("world", File.ReadAllText(dir.InRoot("hello")));
    }
}
