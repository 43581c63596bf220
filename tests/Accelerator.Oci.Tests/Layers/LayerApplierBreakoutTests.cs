using Accelerator.Testing.Tar;

namespace Accelerator.Oci.Tests.Layers;

/// <summary>
/// Hostile archives (an inventory in the spirit of containerd's archive breakout tests): each must fail with a
/// clean error or unpack inside the root, and the sentinel directory beside the root must stay untouched.
/// </summary>
public sealed class LayerApplierBreakoutTests
{
    // Each case builds one or more layers given the sentinel's absolute path.
    private static readonly Dictionary<string, Func<string, byte[][]>> Cases = new()
    {
        ["DotDotName"] = s => [new TarBuilder().AddFile("../escape", "x").ToArray()],
        ["DotDotIntoSentinel"] = s => [new TarBuilder().AddFile("../sentinel/file", "pwned").ToArray()],
        ["DeepDotDot"] = s => [new TarBuilder().AddFile("a/../../../../../../../../sentinel/file", "pwned").ToArray()],
        ["AbsoluteName"] = s => [new TarBuilder().AddFile(s + "/file", "pwned").ToArray()],
        ["AbsoluteNewFile"] = s => [new TarBuilder().AddFile(s + "/new", "pwned").ToArray()],
        ["SymlinkAbsoluteThenWrite"] = s => [new TarBuilder().AddSymlink("lnk", s).AddFile("lnk/file", "pwned").ToArray()],
        ["SymlinkAbsoluteThenNewFile"] = s => [new TarBuilder().AddSymlink("lnk", s).AddFile("lnk/new", "pwned").ToArray()],
        ["SymlinkRelativeUpAndOut"] = s => [new TarBuilder().AddSymlink("lnk", "../sentinel").AddFile("lnk/file", "pwned").ToArray()],
        ["SymlinkRelativeFarUp"] = s => [new TarBuilder().AddDirectory("d").AddSymlink("d/lnk", "../../../../../../../../../" + s.TrimStart('/')).AddFile("d/lnk/file", "pwned").ToArray()],
        ["SymlinkChain"] = s => [new TarBuilder().AddSymlink("a", "b").AddSymlink("b", "c").AddSymlink("c", "../sentinel").AddFile("a/file", "pwned").ToArray()],
        ["SymlinkChainSubdir"] = s => [new TarBuilder().AddDirectory("d").AddSymlink("d/a", "../b").AddSymlink("b", s + "/sub").AddFile("d/a/inner", "pwned").ToArray()],
        ["SymlinkMultipleAbsolute"] = s => [new TarBuilder().AddSymlink("a", "/").AddSymlink("a/b", s).AddFile("a/b/file", "pwned").ToArray()],
        ["SymlinkLoop"] = s => [new TarBuilder().AddSymlink("a", "b").AddSymlink("b", "a").AddFile("a/file", "pwned").ToArray()],
        ["SymlinkToSentinelFileThenReplace"] = s => [new TarBuilder().AddSymlink("f", s + "/file").AddFile("f", "pwned").ToArray()],
        ["SymlinkToSentinelFileThenDirectory"] = s => [new TarBuilder().AddSymlink("f", s + "/file").AddDirectory("f", (UnixFileMode)0x1FF).ToArray()],
        ["DirectoryOverSymlinkChmod"] = s => [new TarBuilder().AddSymlink("d", s).AddDirectory("d", (UnixFileMode)0xFFF).ToArray()],
        ["SymlinkDotDotParent"] = s => [new TarBuilder().AddSymlink("lnk", "..").AddFile("lnk/sentinel/file", "pwned").ToArray()],
        ["SymlinkEmptyFileThroughDevice"] = s => [new TarBuilder().AddSymlink("lnk", s).AddFifo("lnk/fifo").AddCharacterDevice("lnk/null", 1, 3).ToArray()],
        ["SymlinkDirThenSubdir"] = s => [new TarBuilder().AddSymlink("lnk", s).AddDirectory("lnk/newdir").AddSymlink("lnk/newlink", "/").ToArray()],
        ["DotIsSymlink"] = s => [new TarBuilder().AddSymlink(".", s).AddFile("file", "pwned").ToArray()],
        ["DotSlashIsSymlink"] = s => [new TarBuilder().AddSymlink("./", s).AddFile("file", "pwned").ToArray()],
        ["RootIsFile"] = s => [new TarBuilder().AddFile("/", "pwned").ToArray()],
        ["HardlinkRelativeOut"] = s => [new TarBuilder().AddHardLink("h", "../sentinel/file").AddFile("h", "pwned").ToArray()],
        ["HardlinkAbsolute"] = s => [new TarBuilder().AddHardLink("h", s + "/file").ToArray()],
        ["HardlinkDownAndOut"] = s => [new TarBuilder().AddDirectory("d").AddHardLink("d/h", "d/../../sentinel/file").ToArray()],
        ["HardlinkThroughSymlinkDir"] = s => [new TarBuilder().AddSymlink("lnk", s).AddHardLink("h", "lnk/file").ToArray()],
        ["HardlinkToSymlinkThenWrite"] = s => [new TarBuilder().AddSymlink("lnk", s + "/file").AddHardLink("h", "lnk").AddFile("h", "pwned").ToArray()],
        ["HardlinkToSymlinkThenChmod"] = s => [new TarBuilder().AddSymlink("lnk", s + "/file").AddHardLink("h", "lnk").AddDirectory("h", (UnixFileMode)0xFFF).ToArray()],
        ["HardlinkToSelf"] = s => [new TarBuilder().AddFile("f", "x").AddHardLink("f", "f").ToArray()],
        ["HardlinkToDirectory"] = s => [new TarBuilder().AddDirectory("d").AddHardLink("h", "d").ToArray()],
        ["HardlinkToMissing"] = s => [new TarBuilder().AddHardLink("h", "missing").ToArray()],
        ["WhiteoutThroughSymlink"] = s => [new TarBuilder().AddSymlink("lnk", s).AddWhiteout("lnk/file").ToArray()],
        ["WhiteoutDotDot"] = s => [new TarBuilder().AddWhiteout("../sentinel").ToArray()],
        ["WhiteoutAbsolute"] = s => [new TarBuilder().AddWhiteout(s + "/file").ToArray()],
        ["WhiteoutParentName"] = s => [new TarBuilder().AddFile("d/.wh..", "").ToArray()],
        ["WhiteoutDotName"] = s => [new TarBuilder().AddFile(".wh..", "").ToArray()],
        ["OpaqueThroughSymlink"] = s => [new TarBuilder().AddSymlink("lnk", s).AddOpaque("lnk").ToArray()],
        ["OpaqueDotDot"] = s => [new TarBuilder().AddOpaque("..").ToArray()],
        ["LowerLayerSymlinkThenWrite"] = s =>
        [
            new TarBuilder().AddSymlink("etc", s).ToArray(),
            new TarBuilder().AddFile("etc/file", "pwned").AddFile("etc/new", "pwned").ToArray(),
        ],
        ["LowerLayerSymlinkThenWhiteout"] = s =>
        [
            new TarBuilder().AddSymlink("etc", s).ToArray(),
            new TarBuilder().AddWhiteout("etc/file").AddWhiteout("etc/sub").AddOpaque("etc").ToArray(),
        ],
        ["LowerLayerSymlinkThenHardlink"] = s =>
        [
            new TarBuilder().AddSymlink("etc", s).ToArray(),
            new TarBuilder().AddHardLink("h", "etc/file").AddFile("etc/file", "pwned").ToArray(),
        ],
        ["LongNameDotDot"] = s => [new TarBuilder().AddFile(string.Concat(Enumerable.Repeat("../", 60)) + "sentinel/file", "pwned").ToArray()],
        ["GnuLongNameDotDot"] = s => [new TarBuilder(gnuFormat: true).AddFile(string.Concat(Enumerable.Repeat("../", 60)) + "sentinel/file", "pwned").ToArray()],
        ["PaxPathOverride"] = s => [new TarBuilder().Add(new TarBuilderEntry
        {
            Path = "innocent",
            Data = "pwned"u8.ToArray(),
            ExtraPaxRecords = [new("path", System.Text.Encoding.UTF8.GetBytes("../sentinel/file"))],
        }).ToArray()],
    };

    public static TheoryData<string> CaseNames() => [.. Cases.Keys];

    [Theory]
    [MemberData(nameof(CaseNames))]
    public async Task ApplyAsync_HostileArchive_FailsOrStaysInsideRoot(string name)
    {
        using var dir = new LayerTestDirectory();
        foreach (byte[] layer in Cases[name](dir.Sentinel))
        {
            try
            {
                await dir.ApplyAsync(layer);
            }
            catch (Exception e) when (e is InvalidDataException or IOException)
            {
                // A clean refusal is an accepted outcome; what matters is that nothing outside changed.
                break;
            }
        }

        dir.AssertOutsideUnchanged();
    }

    [Fact]
    public async Task ApplyAsync_SymlinkAbsoluteThenWrite_WritesInsideRoot()
    {
        using var dir = new LayerTestDirectory();
        await dir.ApplyAsync(new TarBuilder().AddDirectory("etc").AddSymlink("lnk", "/etc").AddFile("lnk/passwd", "inside").ToArray());
        Assert.Equal("inside", File.ReadAllText(dir.InRoot("etc/passwd")));
        dir.AssertOutsideUnchanged();
    }

    [Fact]
    public async Task ApplyAsync_DotDotName_LandsInsideRoot()
    {
        using var dir = new LayerTestDirectory();
        await dir.ApplyAsync(new TarBuilder().AddFile("../../escape", "x").AddFile("/abs/file", "y").ToArray());
        Assert.Equal("x", File.ReadAllText(dir.InRoot("escape")));
        Assert.Equal("y", File.ReadAllText(dir.InRoot("abs/file")));
        dir.AssertOutsideUnchanged();
    }

    [Fact]
    public async Task ApplyAsync_DotIsSymlink_ThrowsInvalidData()
    {
        using var dir = new LayerTestDirectory();
        await Assert.ThrowsAsync<InvalidDataException>(() => dir.ApplyAsync(new TarBuilder().AddSymlink("./", dir.Sentinel).ToArray()));
        Assert.True(Directory.Exists(dir.Root));
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir.Root));
        dir.AssertOutsideUnchanged();
    }

    [Fact]
    public async Task ApplyAsync_HardlinkToSymlinkOutside_LinksTheSymlinkItself()
    {
        using var dir = new LayerTestDirectory();
        await dir.ApplyAsync(new TarBuilder().AddSymlink("lnk", dir.Sentinel + "/file").AddHardLink("h", "lnk").ToArray());
        Assert.True(LayerTestDirectory.Stat(dir.InRoot("h")).IsSymbolicLink);
        Assert.Equal(2u, LayerTestDirectory.Stat(dir.InRoot("lnk")).Nlink);
        dir.AssertOutsideUnchanged();
    }
}
