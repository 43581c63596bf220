using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Accelerator.Testing.Images;
using Accelerator.Testing.Trees;
using P = Accelerator.Testing.Images.ConformancePaths;

namespace Accelerator.Testing.Tests.Images;

[Collection(ConformanceImageCollection.Name)]
public sealed class ConformanceImageTests(ConformanceImageFixture fixture)
{
    private TreeSnapshot Tree => fixture.Snapshot;

    [Fact]
    public async Task BuildAsync_Default_HasThreeLayersThatSkopeoAccepts()
    {
        string json = await OciLayoutTools.InspectAsync(fixture.Image.LayoutPath, fixture.Image.Tag);
        using var doc = JsonDocument.Parse(json);
        Assert.Equal(3, doc.RootElement.GetProperty("Layers").GetArrayLength());
    }

    [Fact]
    public void Unpack_RegularFiles_HaveExpectedSizesAndContent()
    {
        Assert.Equal(0, Tree[P.EmptyFile].Size);
        Assert.Equal(Hash(Encoding.UTF8.GetBytes(P.SmallFileContent)), Tree[P.SmallFile].Sha256);
        Assert.Equal(P.LargeFileSize, Tree[P.LargeFile].Size);
        Assert.True(P.LargeFileSize > 1024 * 1024);
    }

    [Fact]
    public void Unpack_Modes_KeepSpecialBitsAndOwners()
    {
        Assert.Equal(Convert.ToInt32("4755", 8), Tree[P.SetuidFile].Permissions);
        Assert.Equal(Convert.ToInt32("2755", 8), Tree[P.SetgidFile].Permissions);
        Assert.Equal(Convert.ToInt32("2775", 8), Tree[P.SetgidDirectory].Permissions);
        Assert.Equal(Convert.ToInt32("1777", 8), Tree[P.StickyDirectory].Permissions);
        Assert.Equal(TreeEntryType.Directory, Tree[P.StickyDirectory].Type);
        Assert.Equal((P.UnusualUid, P.UnusualGid), (Tree[P.OwnedFile].Uid, Tree[P.OwnedFile].Gid));
        Assert.Equal((P.UnusualUid, P.UnusualGid), (Tree[P.OwnedDirectory].Uid, Tree[P.OwnedDirectory].Gid));
        Assert.Equal(Convert.ToInt32("640", 8), Tree[P.OwnedFile].Permissions);
    }

    [Fact]
    public void Unpack_Mtimes_AreKeptToTheNanosecond()
    {
        Assert.Equal(P.SubsecondMtime, Tree[P.SubsecondMtimeFile].MtimeNanoseconds);
        Assert.Equal(P.DefaultMtime, Tree[P.SmallFile].MtimeNanoseconds);
    }

    [Fact]
    public void Unpack_Xattrs_IncludeBinaryTrustedAndSecurity()
    {
        var xattrs = Tree[P.XattrFile].Xattrs;
        Assert.Equal("conformance"u8.ToArray(), xattrs["user.comment"]);
        Assert.Equal(P.BinaryXattrValue.ToArray(), xattrs["user.binary"]);
        Assert.Equal("trusted-value"u8.ToArray(), xattrs["trusted.test"]);
        Assert.Equal("security-value"u8.ToArray(), xattrs["security.test"]);
        Assert.Equal("d"u8.ToArray(), Tree[P.XattrDirectory].Xattrs["user.dir"]);
    }

    [Fact]
    public void Unpack_Symlinks_StaySymlinksWithTheirTargets()
    {
        Assert.Equal("/etc/hostname", Target(P.AbsoluteSymlink));
        Assert.Equal("../files/small", Target(P.RelativeSymlink));
        Assert.Equal("does/not/exist", Target(P.DanglingSymlink));
        Assert.Equal("../../../etc/passwd", Target(P.EscapingSymlink));
        Assert.Equal("../files", Target(P.DirectorySymlink));
        Assert.Equal(P.LongSymlinkTarget, Target(P.LongTargetSymlink));
        Assert.True(P.LongSymlinkTarget.Length > 100);
    }

    [Fact]
    public void Unpack_Hardlinks_GroupWithinAndAcrossLayers()
    {
        Assert.Equal(P.LayerHardlinks, Tree[P.LayerHardlinks[1]].HardlinkGroup);
        Assert.Equal([P.CrossLayerTarget, P.CrossLayerHardlink], Tree[P.CrossLayerHardlink].HardlinkGroup);
        Assert.Equal(2, Tree.HardlinkGroups.Count);
    }

    [Fact]
    public void Unpack_SecondLayerTar_HoldsOnlyTheLinkEntryOfTheCrossLayerHardlink()
    {
        using var stream = File.OpenRead(fixture.Image.LayerTarPaths[1]);
        using var reader = new System.Formats.Tar.TarReader(stream);
        var entries = new List<System.Formats.Tar.TarEntry>();
        while (reader.GetNextEntry() is { } entry)
        {
            entries.Add(entry);
        }

        Assert.DoesNotContain(entries, e => e.Name.TrimStart('.', '/') == P.CrossLayerTarget);
        var link = Assert.Single(entries, e => e.Name.TrimStart('.', '/') == P.CrossLayerHardlink);
        Assert.Equal(System.Formats.Tar.TarEntryType.HardLink, link.EntryType);
        Assert.Equal(P.CrossLayerTarget, link.LinkName.TrimStart('.', '/'));
    }

    [Fact]
    public void Unpack_DevicesAndFifo_HaveTypesAndNumbers()
    {
        Assert.Equal(TreeEntryType.CharacterDevice, Tree[P.CharacterDevice].Type);
        Assert.Equal((1u, 3u), (Tree[P.CharacterDevice].DeviceMajor, Tree[P.CharacterDevice].DeviceMinor));
        Assert.Equal(TreeEntryType.BlockDevice, Tree[P.BlockDevice].Type);
        Assert.Equal((7u, 0u), (Tree[P.BlockDevice].DeviceMajor, Tree[P.BlockDevice].DeviceMinor));
        Assert.Equal(TreeEntryType.Fifo, Tree[P.Fifo].Type);
    }

    [Fact]
    public void Unpack_LongNames_ArePresent()
    {
        Assert.True(P.LongPathFile.Length > 100);
        Assert.True(P.GnuLongPathFile.Length > 100);
        Assert.Equal(TreeEntryType.RegularFile, Tree[P.LongPathFile].Type);
        Assert.Equal(TreeEntryType.RegularFile, Tree[P.GnuLongPathFile].Type);
    }

    [Fact]
    public void Unpack_SparseFile_HasFullSizeAndExtents()
    {
        var entry = Tree[P.SparseFile];
        Assert.Equal(P.SparseFileSize, entry.Size);
        var expected = new byte[P.SparseFileSize];
        foreach (var (offset, length, value) in P.SparseExtents)
        {
            expected.AsSpan((int)offset, length).Fill(value);
        }

        Assert.Equal(Hash(expected), entry.Sha256);
    }

    [Fact]
    public void Build_SparseFile_IsStoredSparseInTheLayerTar()
    {
        // System.Formats.Tar refuses this tar (binary xattr values in PAX records), so look at the raw bytes: a PAX
        // sparse map is present, and the whole layer is smaller than the sparse file's logical size.
        byte[] tar = File.ReadAllBytes(fixture.Image.LayerTarPaths[0]);
        Assert.True(tar.AsSpan().IndexOf("GNU.sparse.major=1"u8) >= 0);
        Assert.True(tar.Length < P.SparseFileSize, $"layer 1 is {tar.Length} bytes");
    }

    [Fact]
    public void Unpack_WhiteoutsAndOpaqueDirectory_AreApplied()
    {
        Assert.Null(Tree.Find(P.WhitedOutFile));
        Assert.Null(Tree.Find(P.WhitedOutDirectory));
        Assert.Null(Tree.Find(P.WhitedOutDirectory + "/sub/b"));
        foreach (string hidden in P.OpaqueHiddenPaths)
        {
            Assert.Null(Tree.Find(hidden));
        }

        Assert.Equal(TreeEntryType.RegularFile, Tree[P.OpaqueNewFile].Type);
        Assert.DoesNotContain(Tree.Entries.Keys, k => k.Contains(".wh.", StringComparison.Ordinal));
    }

    [Fact]
    public void Unpack_TypeChanges_AcrossLayers_Apply()
    {
        Assert.Equal(TreeEntryType.Directory, Tree[P.FileReplacedByDirectory].Type);
        Assert.Equal(TreeEntryType.RegularFile, Tree[P.FileReplacedByDirectory + "/inner"].Type);
        Assert.Equal(TreeEntryType.RegularFile, Tree[P.DirectoryReplacedByFile].Type);
        Assert.Null(Tree.Find(P.DirectoryReplacedByFile + "/child"));
    }

    [Fact]
    public void Unpack_RepackLayer_AddsChangesAndDeletes()
    {
        Assert.Equal(TreeEntryType.RegularFile, Tree[P.RepackAddedFile].Type);
        Assert.Equal(Convert.ToInt32("600", 8), Tree[P.RepackChmodFile].Permissions);
        Assert.Null(Tree.Find(P.RepackDeletedFile));
    }

    private string? Target(string path)
    {
        Assert.Equal(TreeEntryType.Symlink, Tree[path].Type);
        return Tree[path].SymlinkTarget;
    }

    private static string Hash(byte[] data) => Convert.ToHexStringLower(SHA256.HashData(data));
}
