namespace Accelerator.Linux.Tests;

/// <summary>Real overlayfs mounts (the suite runs as root): many layers, awkward paths, the classic fallback.</summary>
public sealed class OverlayMountTests : IDisposable
{
    private readonly string _base = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "accel-overlay-" + Guid.NewGuid().ToString("N"))).FullName;
    private readonly List<string> _mounts = [];

    public void Dispose()
    {
        foreach (string mount in _mounts)
        {
            FileSystemMount.Unmount(mount);
        }

        Directory.Delete(_base, recursive: true);
    }

    [Fact]
    public void Mount_120LowerLayers_ReadsEveryLayerAndWritesToUpper()
    {
        // Long names: the classic option string for these would be about 13 KB, three pages.
        string padding = new('p', 80);
        var lowers = new List<string>();
        for (int i = 0; i < 120; i++)
        {
            string layer = Directory.CreateDirectory(Path.Combine(_base, $"layer-{i:D3}-{padding}")).FullName;
            File.WriteAllText(Path.Combine(layer, $"only-{i}"), $"layer {i}");
            File.WriteAllText(Path.Combine(layer, "shadowed"), $"from {i}");
            lowers.Add(layer);
        }

        Assert.Throws<IOException>(() => OverlayMount.ClassicOptions(lowers, null, null));
        var (upper, work, target) = Writable();

        Mount(lowers, upper, work, target);

        // Topmost first: lowers[0] wins, lowers[119] is the bottom layer.
        Assert.Equal("layer 119", File.ReadAllText(Path.Combine(target, "only-119")));
        Assert.Equal("layer 0", File.ReadAllText(Path.Combine(target, "only-0")));
        Assert.Equal("from 0", File.ReadAllText(Path.Combine(target, "shadowed")));
        Assert.Equal(120 + 1, Directory.GetFiles(target).Length);
        File.WriteAllText(Path.Combine(target, "only-119"), "changed");
        Assert.Equal("changed", File.ReadAllText(Path.Combine(upper, "only-119")));
        Assert.Equal("layer 119", File.ReadAllText(Path.Combine(lowers[119], "only-119")));
    }

    [Fact]
    public void Mount_PathsWithCommaColonAndBackslash_PassedWhole()
    {
        string top = Directory.CreateDirectory(Path.Combine(_base, "top,with:odd\\chars")).FullName;
        string bottom = Directory.CreateDirectory(Path.Combine(_base, "bottom:1,2")).FullName;
        File.WriteAllText(Path.Combine(top, "top"), "top");
        File.WriteAllText(Path.Combine(bottom, "file"), "bottom");
        string upper = Directory.CreateDirectory(Path.Combine(_base, "up,per:x\\y")).FullName;
        string work = Directory.CreateDirectory(Path.Combine(_base, "wo\\rk")).FullName;
        string target = Directory.CreateDirectory(Path.Combine(_base, "tar,get")).FullName;

        Mount([top, bottom], upper, work, target);

        Assert.Equal("top", File.ReadAllText(Path.Combine(target, "top")));
        Assert.Equal("bottom", File.ReadAllText(Path.Combine(target, "file")));
        File.WriteAllText(Path.Combine(target, "new"), "upper");
        Assert.Equal("upper", File.ReadAllText(Path.Combine(upper, "new")));
    }

    [Fact]
    public void Mount_Writable_MountInfoListsUpperDirectory()
    {
        string lower = Directory.CreateDirectory(Path.Combine(_base, "lower")).FullName;
        var (upper, work, target) = Writable();

        Mount([lower], upper, work, target);

        // The snapshot store finds overlays still using an upper by this option (MountTable.IsUpperInUse).
        string line = Assert.Single(File.ReadLines("/proc/self/mountinfo"), l => l.Split(' ')[4] == target);
        Assert.Contains(",upperdir=" + upper + ",", line, StringComparison.Ordinal);
        Assert.Contains(" - overlay overlay ", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Mount_NoUpper_ReadOnly()
    {
        string top = Directory.CreateDirectory(Path.Combine(_base, "top")).FullName;
        string bottom = Directory.CreateDirectory(Path.Combine(_base, "bottom")).FullName;
        File.WriteAllText(Path.Combine(bottom, "file"), "bottom");
        string target = Directory.CreateDirectory(Path.Combine(_base, "target")).FullName;

        Mount([top, bottom], null, null, target);

        Assert.Equal("bottom", File.ReadAllText(Path.Combine(target, "file")));
        Assert.ThrowsAny<IOException>(() => File.WriteAllText(Path.Combine(target, "new"), "x"));
        Assert.False(File.Exists(Path.Combine(top, "new")));
    }

    [Fact]
    public void Mount_MissingLowerDirectory_IOExceptionNamesIt()
    {
        string missing = Path.Combine(_base, "missing");
        var (upper, work, target) = Writable();

        var error = Assert.Throws<IOException>(() => OverlayMount.Mount([missing], upper, work, target));

        Assert.Contains(missing, error.Message, StringComparison.Ordinal);
        Assert.False(FileSystemMount.Unmount(target));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(OverlayMount.MaxLowerDirectories + 1)]
    public void Mount_LowerCountOutOfRange_ArgumentException(int count)
    {
        var lowers = Enumerable.Repeat(_base, count).ToArray();

        Assert.Throws<ArgumentException>(() => OverlayMount.Mount(lowers, null, null, _base));
    }

    [Fact]
    public void Mount_UpperWithoutWork_ArgumentException()
        => Assert.Throws<ArgumentException>(() => OverlayMount.Mount([_base], _base, null, _base));

    [Fact]
    public void MountClassic_ThreeLayers_MountsLikeTheFileSystemContext()
    {
        var lowers = new[] { "a", "b", "c" }.Select(name => Directory.CreateDirectory(Path.Combine(_base, name)).FullName).ToArray();
        File.WriteAllText(Path.Combine(lowers[2], "file"), "c");
        File.WriteAllText(Path.Combine(lowers[0], "file"), "a");
        var (upper, work, target) = Writable();

        OverlayMount.MountClassic(lowers, upper, work, target);
        _mounts.Add(target);

        Assert.Equal("a", File.ReadAllText(Path.Combine(target, "file")));
        File.WriteAllText(Path.Combine(target, "new"), "upper");
        Assert.True(File.Exists(Path.Combine(upper, "new")));
    }

    [Fact]
    public void ClassicOptions_Writable_LowersJoinedTopmostFirst()
        => Assert.Equal("lowerdir=/a:/b,upperdir=/u,workdir=/w", OverlayMount.ClassicOptions(["/a", "/b"], "/u", "/w"));

    [Fact]
    public void ClassicOptions_ReadOnly_OnlyLowers()
        => Assert.Equal("lowerdir=/a", OverlayMount.ClassicOptions(["/a"], null, null));

    [Theory]
    [InlineData("/a,b")]
    [InlineData("/a:b")]
    [InlineData("/a\\b")]
    public void ClassicOptions_SeparatorInPath_IOExceptionNamesPath(string path)
    {
        var error = Assert.Throws<IOException>(() => OverlayMount.ClassicOptions(["/x", path], null, null));

        Assert.Contains(path, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ClassicOptions_MoreThanOnePage_IOExceptionSaysWhy()
    {
        var lowers = Enumerable.Range(0, 40).Select(i => "/" + new string('d', 100) + i).ToArray();

        var error = Assert.Throws<IOException>(() => OverlayMount.ClassicOptions(lowers, null, null));

        Assert.Contains("40 lower directories", error.Message, StringComparison.Ordinal);
        Assert.Contains("4095", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ClassicOptions_ExactlyOnePage_Accepted()
    {
        string path = "/" + new string('d', OverlayMount.MaxClassicOptionBytes - "lowerdir=/".Length);

        Assert.Equal(OverlayMount.MaxClassicOptionBytes, OverlayMount.ClassicOptions([path], null, null).Length);
    }

    [Fact]
    public void Unmount_NothingMounted_False()
        => Assert.False(FileSystemMount.Unmount(_base));

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void Mount_NewUpperDirectory_MergedRootKeepsTheImageRootsOwnerModeAndTime()
    {
        // Issue 12 (real images): a writable block or lazy mount showed the new upper directory's mtime as the root's.
        string lower = Directory.CreateDirectory(Path.Combine(_base, "image-root")).FullName;
        File.WriteAllText(Path.Combine(lower, "file"), "x");
        File.SetUnixFileMode(lower, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute);
        Accelerator.Testing.Interop.UnixFile.SetOwner(lower, 1234, 5678);
        Accelerator.Testing.Interop.UnixFile.SetModificationTime(lower, 1_577_836_800_123_456_789L);
        var expected = Accelerator.Testing.Trees.TreeSnapshot.Capture(lower, hashContent: false)["."];
        var (upper, work, target) = Writable();

        Mount([lower], upper, work, target);

        var merged = Accelerator.Testing.Trees.TreeSnapshot.Capture(target, hashContent: false)["."];
        Assert.Equal((expected.Permissions, expected.Uid, expected.Gid, expected.MtimeNanoseconds), (merged.Permissions, merged.Uid, merged.Gid, merged.MtimeNanoseconds));
    }

    private (string Upper, string Work, string Target) Writable()
        => (Directory.CreateDirectory(Path.Combine(_base, "upper")).FullName,
            Directory.CreateDirectory(Path.Combine(_base, "work")).FullName,
            Directory.CreateDirectory(Path.Combine(_base, "target")).FullName);

    private void Mount(IReadOnlyList<string> lowers, string? upper, string? work, string target)
    {
        OverlayMount.Mount(lowers, upper, work, target);
        _mounts.Add(target);
    }
}
