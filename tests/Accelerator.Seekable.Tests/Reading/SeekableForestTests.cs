using System.Text;
using Accelerator.Oci.Layers;
using Accelerator.Seekable.Reading;
using Accelerator.Testing.Tar;

namespace Accelerator.Seekable.Tests.Reading;

/// <summary>The tree rules of <see cref="SeekableLayerTree"/> and the forest's numbering, on layers made from real tars.</summary>
public sealed class SeekableForestTests
{
    [Fact]
    public void Build_Whiteout_IsCharacterDevice00NamedAfterTheFile()
    {
        var forest = Forest(new TarBuilder().AddDirectory("etc").AddFile("etc/gone", "x"), new TarBuilder().AddWhiteout("etc/gone"));

        var whiteout = Entry(forest, 1, "/etc/gone");
        Assert.Equal(FileEntryType.CharDevice, whiteout.Type);
        Assert.Equal((0u, 0u, 0u, 0u, 0u), (whiteout.DeviceMajor, whiteout.DeviceMinor, whiteout.Mode, whiteout.Uid, whiteout.Gid));
        Assert.Null(forest.FindPath(1, "/etc/.wh.gone"));
        Assert.Equal(FileEntryType.Regular, Entry(forest, 0, "/etc/gone").Type);
    }

    [Fact]
    public void Build_OpaqueMarker_SetsOverlayOpaqueAndIsNotShown()
    {
        var forest = Forest(new TarBuilder().AddDirectory("opt").AddFile("opt/old", "x"), new TarBuilder().AddDirectory("opt").AddOpaque("opt").AddFile("opt/new", "y"));

        var directory = Entry(forest, 1, "/opt");
        Assert.Equal("y"u8.ToArray(), directory.ExtendedAttributes![SeekableLayerTree.OpaqueAttribute]);
        Assert.Null(forest.FindPath(1, "/opt/.wh..wh..opq"));
        Assert.Equal(["new"], forest.ReadDirectory(directory.Inode).Select(e => e.Name));
        Assert.Null(Entry(forest, 0, "/opt").ExtendedAttributes);
    }

    [Fact]
    public void Build_OverlayAttributesFromTheImage_Dropped()
    {
        var xattrs = new Dictionary<string, byte[]>
        {
            ["trusted.overlay.opaque"] = "y"u8.ToArray(),
            ["user.overlay.redirect"] = "/x"u8.ToArray(),
            ["user.mime"] = "text"u8.ToArray(),
        };
        var tar = new TarBuilder().Add(new TarBuilderEntry { Path = "dir/", TypeFlag = '5', Mode = (UnixFileMode)0x1ED, ExtendedAttributes = xattrs });

        var directory = Entry(Forest(tar), 0, "/dir");

        Assert.Equal(["user.mime"], directory.ExtendedAttributes!.Keys);
    }

    [Fact]
    public void Build_OtherAufsNames_Dropped()
    {
        var forest = Forest(new TarBuilder().AddFile(".wh..wh.aufs", "").AddDirectory("d").AddFile("d/.wh..wh.orph", ""));

        Assert.Equal(["d"], forest.ReadDirectory(forest.FindPath(0, "/")!.Value).Select(e => e.Name));
        Assert.Empty(forest.ReadDirectory(forest.FindPath(0, "/d")!.Value));
    }

    [Fact]
    public void Build_WhiteoutOfThisLayersOwnFile_LeavesTheFile()
    {
        var forest = Forest(new TarBuilder().AddFile("kept", "mine").AddWhiteout("kept"));

        Assert.Equal(FileEntryType.Regular, Entry(forest, 0, "/kept").Type);
    }

    [Fact]
    public void Build_HardLinks_ShareOneInodeWithItsLinkCount()
    {
        var forest = Forest(new TarBuilder().AddFile("bin/a", "same").AddHardLink("bin/b", "bin/a").AddHardLink("c", "./bin/a"));

        var a = Entry(forest, 0, "/bin/a");
        Assert.Equal(a.Inode, Entry(forest, 0, "/bin/b").Inode);
        Assert.Equal(a.Inode, Entry(forest, 0, "/c").Inode);
        Assert.Equal(3u, a.LinkCount);
        Assert.Equal("/bin/a", forest.PathOf(a.Inode));
        Assert.Equal(0, forest.FileOf(a.Inode)!.Value.Layer);
    }

    [Fact]
    public void Build_HardLinkNameReplacedLater_CountDrops()
    {
        var forest = Forest(new TarBuilder().AddFile("a", "same").AddHardLink("b", "a").AddFile("b", "other"));

        Assert.Equal(1u, Entry(forest, 0, "/a").LinkCount);
        Assert.NotEqual(Entry(forest, 0, "/a").Inode, Entry(forest, 0, "/b").Inode);
    }

    [Theory]
    [InlineData("missing")]
    [InlineData("dir")]
    [InlineData("link")]
    public void Build_HardLinkToMissingOrNonRegular_Rejected(string target)
    {
        var tar = new TarBuilder().AddDirectory("dir").AddSymlink("link", "dir").AddHardLink("bad", target);

        var error = Assert.Throws<InvalidDataException>(() => Forest(tar));
        Assert.Contains("'bad'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_LaterEntryReplacesEarlier_DirectoryLosesItsSubtree()
    {
        var forest = Forest(new TarBuilder()
            .AddDirectory("d").AddFile("d/inner", "x")
            .AddFile("f", "first").AddFile("f", "second!")
            .AddFile("d", "now a file")
            .AddDirectory("keep", mode: (UnixFileMode)0x1C0).AddFile("keep/child", "c").AddDirectory("keep", mode: (UnixFileMode)0x1ED));

        Assert.Equal(FileEntryType.Regular, Entry(forest, 0, "/d").Type);
        Assert.Null(forest.FindPath(0, "/d/inner"));
        Assert.Equal(7, Entry(forest, 0, "/f").Size);
        Assert.Equal(0x1EDu, Entry(forest, 0, "/keep").Mode);
        Assert.NotNull(forest.FindPath(0, "/keep/child"));
    }

    [Fact]
    public void Build_DirectoryAfterItsWhiteout_IsOpaque()
    {
        var forest = Forest(new TarBuilder().AddDirectory("d").AddFile("d/old", "x"), new TarBuilder().AddWhiteout("d").AddDirectory("d").AddFile("d/new", "y"));

        Assert.True(Entry(forest, 1, "/d").ExtendedAttributes!.ContainsKey(SeekableLayerTree.OpaqueAttribute));
    }

    [Theory]
    [InlineData("../escape")]
    [InlineData("a/../../escape")]
    [InlineData("a//b")]
    [InlineData("a/..")]
    public void Build_PathAttack_Rejected(string path)
    {
        var error = Assert.Throws<InvalidDataException>(() => Forest(new TarBuilder().AddFile(path, "x")));
        Assert.Contains("component", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_NulInName_Rejected()
    {
        var index = IdentityLayerIndex.FromEntries(new TarEntryHeader { Path = "a\0b", Kind = TarEntryKind.Directory });

        Assert.Throws<InvalidDataException>(() => new SeekableForest([index]));
    }

    [Fact]
    public void Build_RootAsFile_Rejected()
    {
        var index = IdentityLayerIndex.FromEntries(new TarEntryHeader { Path = "./", Kind = TarEntryKind.SymbolicLink, LinkTarget = "/etc" });

        Assert.Throws<InvalidDataException>(() => new SeekableForest([index]));
    }

    [Fact]
    public void Build_EntryUnderAFile_Rejected()
        => Assert.Throws<InvalidDataException>(() => Forest(new TarBuilder().AddFile("f", "x").AddFile("f/under", "y")));

    [Fact]
    public void Build_LeadingSlashAndDot_Normalised()
    {
        var forest = Forest(new TarBuilder().AddDirectory("./usr/").AddFile("/usr/./bin/tool", "t"));

        Assert.Equal(FileEntryType.Regular, Entry(forest, 0, "/usr/bin/tool").Type);
        Assert.Equal("/0/usr/bin/tool", Entry(forest, 0, "usr/bin/tool").Path);
    }

    [Fact]
    public void Forest_ImplicitDirectory_TakesTheNearestLowerDirectorysAttributes()
    {
        var forest = Forest(
            new TarBuilder().AddDirectory("usr", mode: (UnixFileMode)0x1E8, uid: 7, gid: 8, modificationTime: 1234),
            new TarBuilder().AddFile("etc/new", "n"),
            new TarBuilder().AddFile("usr/bin/tool", "t"));

        var usr = Entry(forest, 2, "/usr");
        Assert.Equal((0x1E8u, 7u, 8u, 1234L), (usr.Mode, usr.Uid, usr.Gid, usr.ModificationTime.Seconds));
        var bin = Entry(forest, 2, "/usr/bin");
        Assert.Equal((0x1EDu, 0u, 0u, 0L), (bin.Mode, bin.Uid, bin.Gid, bin.ModificationTime.Seconds));
        Assert.Null(usr.ExtendedAttributes);
    }

    [Fact]
    public void Forest_Inodes_RootThenLayerDirectoriesThenDeterministic()
    {
        TarBuilder[] layers = [new TarBuilder().AddDirectory("b").AddFile("b/x", "1").AddFile("a", "2"), new TarBuilder().AddFile("z", "3")];

        var first = Forest(layers);
        var second = Forest(layers);

        Assert.Equal(1ul, ((IChunkIndex)first).RootInode);
        Assert.Equal(["0", "1"], first.ReadDirectory(1).Select(e => e.Name));
        Assert.Equal([2ul, 3ul], first.ReadDirectory(1).Select(e => e.Entry.Inode));
        Assert.Equal(Map(first), Map(second));
        Assert.Equal(first.InodeCount, Map(first).Count + 1);
        Assert.Empty(first.GetChunks(Entry(first, 0, "/a").Inode));
    }

    [Fact]
    public void Forest_ElevenLayers_DirectoriesNamedByNumber()
    {
        var forest = Forest([.. Enumerable.Range(0, 11).Select(i => new TarBuilder().AddFile($"f{i}", "x"))]);

        Assert.Equal(12ul, forest.FindPath(10, "/"));
        Assert.Equal("10", SeekableForest.LayerDirectoryName(10));
        Assert.Equal(12ul, forest.Lookup(1, "10")!.Inode);
        Assert.NotNull(forest.FindPath(10, "/f10"));
    }

    private static Dictionary<string, ulong> Map(SeekableForest forest)
    {
        var map = new Dictionary<string, ulong>();
        var pending = new Stack<ulong>([1ul]);
        while (pending.TryPop(out ulong inode))
        {
            foreach (var (_, entry) in forest.ReadDirectory(inode))
            {
                map[entry.Path] = entry.Inode;
                if (entry.Type == FileEntryType.Directory)
                {
                    pending.Push(entry.Inode);
                }
            }
        }

        return map;
    }

    internal static SeekableForest Forest(params TarBuilder[] layers) => new([.. layers.Select(l => IdentityLayerIndex.Build(l.ToArray()))]);

    internal static FileEntry Entry(SeekableForest forest, int layer, string path)
        => forest.GetEntry(forest.FindPath(layer, path) ?? throw new Xunit.Sdk.XunitException($"Layer {layer} has no {path}.")) !;
}

/// <summary>Hostile entry lists: random paths, kinds, links and whiteouts give a consistent forest or one clean error.</summary>
public sealed class SeekableForestFuzzTests
{
    private static readonly string[] Names = ["a", "b", ".", "..", "", ".wh.a", ".wh..wh..opq", ".wh..wh.x", ".wh.", "c\0", "d"];

    [Fact]
    public void Build_RandomEntries_ConsistentForestOrInvalidData()
    {
        var random = new Random(1616);
        int built = 0;
        for (int round = 0; round < 3000; round++)
        {
            var headers = new List<TarEntryHeader>();
            for (int i = random.Next(1, 12); i > 0; i--)
            {
                var kind = (TarEntryKind)random.Next(0, 7);
                headers.Add(new TarEntryHeader
                {
                    Path = (random.Next(4) == 0 ? "/" : "") + string.Join('/', Enumerable.Range(0, random.Next(1, 4)).Select(_ => Names[random.Next(Names.Length)])) + (random.Next(5) == 0 ? "/" : ""),
                    Kind = kind,
                    Mode = (UnixFileMode)random.Next(0, 0x1000),
                    Uid = random.Next(8) == 0 ? -1 : random.Next(0, 70000),
                    LinkTarget = kind is TarEntryKind.HardLink or TarEntryKind.SymbolicLink ? string.Join('/', Enumerable.Range(0, random.Next(1, 3)).Select(_ => Names[random.Next(Names.Length)])) : null,
                    DeviceMajor = random.Next(-1, 3),
                });
            }

            SeekableForest forest;
            try
            {
                forest = new SeekableForest([IdentityLayerIndex.FromEntries([.. headers]), IdentityLayerIndex.FromEntries([.. headers.Take(2)])]);
            }
            catch (InvalidDataException)
            {
                continue;
            }

            built++;
            CheckConsistent(forest);
        }

        Assert.True(built > 100, $"only {built} forests built");
    }

    private static void CheckConsistent(SeekableForest forest)
    {
        var pending = new Stack<ulong>([1ul]);
        var seen = new HashSet<ulong>();
        while (pending.TryPop(out ulong inode))
        {
            foreach (var (name, entry) in forest.ReadDirectory(inode))
            {
                Assert.False(name.Length == 0 || name is "." or ".." || name.Contains('/') || name.Contains('\0'), name);

                // A whiteout name is never an entry of its own; as a parent on another entry's path it is a directory (as the applier makes it).
                Assert.False(name.StartsWith(".wh.", StringComparison.Ordinal) && entry.Type != FileEntryType.Directory, name);
                Assert.Same(entry, forest.Lookup(inode, name));
                Assert.False(entry.ExtendedAttributes?.Keys.Any(k => k.StartsWith("user.overlay.", StringComparison.Ordinal)) ?? false);
                if (entry.Type == FileEntryType.Directory)
                {
                    Assert.True(seen.Add(entry.Inode), "a directory is reachable twice");
                    pending.Push(entry.Inode);
                }
                else if (entry.Type == FileEntryType.Regular)
                {
                    Assert.NotNull(forest.FileOf(entry.Inode));
                    Assert.NotNull(forest.PathOf(entry.Inode));
                }
            }
        }
    }
}
