using System.Diagnostics;
using Accelerator.Testing.Interop;
using Accelerator.Testing.Tests.Images;
using Accelerator.Testing.Trees;
using P = Accelerator.Testing.Images.ConformancePaths;

namespace Accelerator.Testing.Tests.Trees;

[Collection(ConformanceImageCollection.Name)]
public sealed class TreeSnapshotTests(ConformanceImageFixture fixture) : IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("accel-tree-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    [Fact]
    public void Compare_CopyMadeWithCpA_IsEmpty()
    {
        string copy = CopyRootFs();

        var differences = TreeSnapshot.Compare(fixture.Snapshot, TreeSnapshot.Capture(copy));

        Assert.Empty(differences);
    }

    [Fact]
    public void Compare_ModeChanged_ReportsOnlyTheMode()
    {
        string copy = CopyRootFs();
        File.SetUnixFileMode(Path.Combine(copy, P.SetuidFile), (UnixFileMode)Convert.ToInt32("755", 8));

        var difference = Assert.Single(TreeSnapshot.Compare(fixture.Snapshot, TreeSnapshot.Capture(copy)));

        Assert.Equal(new TreeDifference(P.SetuidFile, "mode", "04755", "0755"), difference);
        Assert.Equal("modes/setuid: mode expected 04755 got 0755", difference.ToString());
    }

    [Fact]
    public void Compare_ContentChanged_ReportsOnlyTheHash()
    {
        string copy = CopyRootFs();
        string path = Path.Combine(copy, P.SmallFile);
        File.WriteAllText(path, P.SmallFileContent.ToUpperInvariant());
        RestoreTimes(copy, P.SmallFile);

        var difference = Assert.Single(TreeSnapshot.Compare(fixture.Snapshot, TreeSnapshot.Capture(copy)));

        Assert.Equal((P.SmallFile, "sha256"), (difference.Path, difference.Field));
    }

    [Fact]
    public void Compare_XattrChanged_ReportsTheAttribute()
    {
        string copy = CopyRootFs();
        UnixFile.SetXattr(Path.Combine(copy, P.XattrFile), "user.binary", [0x00, 0x01]);
        UnixFile.RemoveXattr(Path.Combine(copy, P.XattrFile), "trusted.test");

        var differences = TreeSnapshot.Compare(fixture.Snapshot, TreeSnapshot.Capture(copy));

        Assert.Equal(
            [
                new TreeDifference(P.XattrFile, "xattr trusted.test", "\"trusted-value\"", "(none)"),
                new TreeDifference(P.XattrFile, "xattr user.binary", "0x00ff7f800a0001", "0x0001"),
            ],
            differences);
    }

    [Fact]
    public void Compare_MtimeChanged_ReportsTheTime()
    {
        string copy = CopyRootFs();
        UnixFile.SetModificationTime(Path.Combine(copy, P.SubsecondMtimeFile), P.SubsecondMtime + 1);

        var difference = Assert.Single(TreeSnapshot.Compare(fixture.Snapshot, TreeSnapshot.Capture(copy)));

        Assert.Equal(new TreeDifference(P.SubsecondMtimeFile, "mtime", "2001-02-03T04:05:06.123456789Z", "2001-02-03T04:05:06.123456790Z"), difference);
    }

    [Fact]
    public void Compare_MtimeWithoutSubseconds_ComparesWholeSeconds()
    {
        string copy = CopyRootFs();
        // Truncated to the second, as a ustar header would store it: equal at the precision both sides have.
        UnixFile.SetModificationTime(Path.Combine(copy, P.SubsecondMtimeFile), P.SubsecondMtime / 1_000_000_000 * 1_000_000_000);
        Assert.Empty(TreeSnapshot.Compare(fixture.Snapshot, TreeSnapshot.Capture(copy)));

        UnixFile.SetModificationTime(Path.Combine(copy, P.SubsecondMtimeFile), (P.SubsecondMtime / 1_000_000_000 * 1_000_000_000) + 1_000_000_000);
        Assert.Single(TreeSnapshot.Compare(fixture.Snapshot, TreeSnapshot.Capture(copy)));
    }

    [Fact]
    public void Compare_HardlinkSplit_ReportsTheGroups()
    {
        string copy = CopyRootFs();
        string second = Path.Combine(copy, P.LayerHardlinks[1]);
        byte[] content = File.ReadAllBytes(second);
        var mode = File.GetUnixFileMode(second);
        File.Delete(second);
        File.WriteAllBytes(second, content);
        File.SetUnixFileMode(second, mode);
        RestoreTimes(copy, P.LayerHardlinks[1]);

        var differences = TreeSnapshot.Compare(fixture.Snapshot, TreeSnapshot.Capture(copy));

        Assert.All(differences, d => Assert.Equal("hardlinks", d.Field));
        Assert.Equal(P.LayerHardlinks, differences.Select(d => d.Path));
        Assert.Equal("[not linked]", differences[1].Actual);
        Assert.Equal("[hardlinks/first, hardlinks/third]", differences[0].Actual);
    }

    [Fact]
    public void Compare_IgnoredField_IsNotReported()
    {
        string copy = CopyRootFs();
        File.SetUnixFileMode(Path.Combine(copy, P.SmallFile), (UnixFileMode)Convert.ToInt32("600", 8));
        UnixFile.SetOwner(Path.Combine(copy, P.OwnedFile), 0, 0);

        var options = new TreeCompareOptions().Without(TreeFields.Permissions);
        var difference = Assert.Single(TreeSnapshot.Compare(fixture.Snapshot, TreeSnapshot.Capture(copy), options));

        Assert.Equal(new TreeDifference(P.OwnedFile, "owner", "1234:5678", "0:0"), difference);
    }

    [Fact]
    public void Compare_PathsAddedRemovedAndRetyped_AreReported()
    {
        string copy = CopyRootFs();
        File.Delete(Path.Combine(copy, P.EmptyFile));
        File.Delete(Path.Combine(copy, P.DanglingSymlink));
        Directory.CreateDirectory(Path.Combine(copy, P.DanglingSymlink));
        File.WriteAllText(Path.Combine(copy, "extra"), "x");
        var options = new TreeCompareOptions().Without(TreeFields.DirectoryMtime);

        var differences = TreeSnapshot.Compare(fixture.Snapshot, TreeSnapshot.Capture(copy), options);

        Assert.Equal(
            [
                new TreeDifference("extra", "presence", "missing", "RegularFile"),
                new TreeDifference(P.EmptyFile, "presence", "RegularFile", "missing"),
                new TreeDifference(P.DanglingSymlink, "type", "Symlink", "Directory"),
            ],
            differences);
    }

    [Fact]
    public void Capture_SparseFile_RecordsAllocatedSize()
    {
        string dir = Path.Combine(_temp, "sparse");
        Directory.CreateDirectory(dir);
        using (var stream = File.Create(Path.Combine(dir, "f")))
        {
            stream.SetLength(8 * 1024 * 1024);
            stream.Position = 4096;
            stream.Write(new byte[4096]);
        }

        var entry = TreeSnapshot.Capture(dir)["f"];

        Assert.Equal(8 * 1024 * 1024, entry.Size);
        Assert.True(entry.AllocatedSize < 1024 * 1024, $"allocated {entry.AllocatedSize}");
    }

    [Fact]
    public void Capture_SymlinkToDirectory_IsNotFollowed()
    {
        Assert.Equal(TreeEntryType.Symlink, fixture.Snapshot[P.DirectorySymlink].Type);
        Assert.DoesNotContain(fixture.Snapshot.Entries.Keys, k => k.StartsWith(P.DirectorySymlink + "/", StringComparison.Ordinal));
    }

    [Fact]
    public void Capture_NotADirectory_Throws()
    {
        string file = Path.Combine(_temp, "file");
        File.WriteAllText(file, "x");

        Assert.Throws<IOException>(() => TreeSnapshot.Capture(file));
    }

    private string CopyRootFs()
    {
        string copy = Path.Combine(_temp, "copy");
        using var cp = Process.Start("cp", ["-a", fixture.RootFs, copy]);
        cp.WaitForExit();
        Assert.Equal(0, cp.ExitCode);
        return copy;
    }

    // Puts back the original mtimes of a path and its parent after rewriting the path in the copy.
    private void RestoreTimes(string copy, string path)
    {
        UnixFile.SetModificationTime(Path.Combine(copy, path), fixture.Snapshot[path].MtimeNanoseconds);
        string parent = Path.GetDirectoryName(path)!;
        UnixFile.SetModificationTime(Path.Combine(copy, parent), fixture.Snapshot[parent].MtimeNanoseconds);
    }
}
