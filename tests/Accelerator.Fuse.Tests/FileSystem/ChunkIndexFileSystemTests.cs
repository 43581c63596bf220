using Accelerator.Fuse.FileSystem;
using Accelerator.Fuse.Protocol;
using Accelerator.Fuse.Tests.Support;
using Accelerator.Linux;
using E = Accelerator.Fuse.Tests.Support.EntryListChunkIndex;

namespace Accelerator.Fuse.Tests.FileSystem;

public sealed class ChunkIndexFileSystemTests
{
    [Fact]
    public void ToAttributes_Device_CarriesTypeNumbersAndPermissions()
    {
        var entry = new FileEntry { Inode = 7, Path = "/dev/null", Type = FileEntryType.CharDevice, Mode = 0x1B6 | 0x800, DeviceMajor = 1, DeviceMinor = 3, Uid = 5, Gid = 6, LinkCount = 1 };

        var attributes = ChunkIndexFileSystem.ToAttributes(entry, 7);

        Assert.Equal((FuseNodeType.CharacterDevice, 0x9B6U, 0x2000U | 0x9B6), (attributes.Type, attributes.Permissions, attributes.Mode));
        Assert.Equal((1U, 3U, 5U, 6U, 0L), (attributes.DeviceMajor, attributes.DeviceMinor, attributes.Uid, attributes.Gid, attributes.Blocks));
    }

    [Fact]
    public void ToAttributes_SymlinkWithNonAsciiTarget_SizeIsTargetBytes()
    {
        var entry = new FileEntry { Inode = 8, Path = "/l", Type = FileEntryType.Symlink, Mode = 0x1FF, LinkTarget = "名前", Size = 2 };

        Assert.Equal(6, ChunkIndexFileSystem.ToAttributes(entry, 8).Size);
    }

    [Fact]
    public void ToAttributes_RegularFile_CountsBlocksOf512()
    {
        Assert.Equal(3, ChunkIndexFileSystem.ToAttributes(E.File(9, "/f", 1025), 9).Blocks);
    }

    [Fact]
    public void Nodes_IndexRootIsNotOne_RootIsNodeOneAndInodeOneTakesTheRootsNumber()
    {
        var index = new E(50, E.Directory(50, "/"), E.File(1, "/one", 10), E.Directory(51, "/sub"), E.File(52, "/sub/x", 3));
        var fileSystem = new ChunkIndexFileSystem(index, new TruncatedContentReader(100));

        var root = fileSystem.GetAttributes(FuseProtocol.RootNodeId)!.Value;
        var one = fileSystem.Lookup(FuseProtocol.RootNodeId, "one")!.Value;
        var sub = fileSystem.Lookup(FuseProtocol.RootNodeId, "sub")!.Value;
        var listing = fileSystem.ReadDirectory(sub.NodeId)!;

        Assert.Equal((FuseNodeType.Directory, 50UL), (root.Type, root.Inode));
        Assert.Equal((50UL, 1UL), (one.NodeId, one.Inode));
        Assert.Equal(10, fileSystem.GetAttributes(50)!.Value.Size);
        Assert.Equal(["."], listing.Take(1).Select(e => e.Name));
        Assert.Equal(("..", FuseProtocol.RootNodeId), (listing[1].Name, listing[1].Attributes.NodeId));
        Assert.Equal(("x", 52UL), (listing[2].Name, listing[2].Attributes.NodeId));
    }

    [Fact]
    public void ReadDirectory_NamesTheKernelCannotTake_AreLeftOut()
    {
        var index = new E(1, E.Directory(1, "/"), E.File(2, "/ok", 1), E.File(3, "/" + new string('x', 256), 1), E.File(4, "/nul\0name", 1));
        var fileSystem = new ChunkIndexFileSystem(index, new TruncatedContentReader(100));

        Assert.Equal([".", "..", "ok"], fileSystem.ReadDirectory(1)!.Select(e => e.Name));
        Assert.Null(fileSystem.ReadDirectory(2));
    }

    [Fact]
    public void Lookup_DotsAndSlashes_AreNotFound()
    {
        var index = new E(1, E.Directory(1, "/"), E.Directory(2, "/sub"), E.File(3, "/sub/f", 1));
        var fileSystem = new ChunkIndexFileSystem(index, new TruncatedContentReader(100));

        Assert.Null(fileSystem.Lookup(1, "."));
        Assert.Null(fileSystem.Lookup(2, ".."));
        Assert.Null(fileSystem.Lookup(1, "sub/f"));
        Assert.NotNull(fileSystem.Lookup(2, "f"));
    }

    [Fact]
    public async Task ReadAsync_ContentShorterThanTheIndexSays_ThrowsInsteadOfServingZeros()
    {
        var index = new E(1, E.Directory(1, "/"), E.File(2, "/f", 1000));
        var fileSystem = new ChunkIndexFileSystem(index, new TruncatedContentReader(600));
        byte[] buffer = new byte[1000];

        Assert.Equal(500, await fileSystem.ReadAsync(2, 0, buffer.AsMemory(0, 500), CancellationToken.None));
        await Assert.ThrowsAsync<IOException>(async () => await fileSystem.ReadAsync(2, 0, buffer, CancellationToken.None));
    }

    [Fact]
    public async Task ReadAsync_PastTheEndAndOfADirectory_ReturnsZeroOrEisdir()
    {
        var index = new E(1, E.Directory(1, "/"), E.File(2, "/f", 10));
        var fileSystem = new ChunkIndexFileSystem(index, new TruncatedContentReader(10));

        Assert.Equal(0, await fileSystem.ReadAsync(2, 10, new byte[5], CancellationToken.None));
        var error = await Assert.ThrowsAsync<FuseErrorException>(async () => await fileSystem.ReadAsync(1, 0, new byte[5], CancellationToken.None));
        Assert.Equal(Errno.EISDIR, error.Errno);
    }

    [Fact]
    public void StatFs_Tree_CountsDistinctInodesAndFileBlocks()
    {
        var hardlink = E.File(3, "/b", 5000);
        var index = new E(1, E.Directory(1, "/"), E.File(3, "/a", 5000), hardlink with { Path = "/b" }, E.Directory(4, "/d"), E.File(5, "/d/c", 1));

        var statistics = new ChunkIndexFileSystem(index, new TruncatedContentReader(0)).StatFs();

        Assert.Equal((4096U, 3UL, 4UL, 0UL, 255U), (statistics.BlockSize, statistics.Blocks, statistics.Files, statistics.FreeBlocks, statistics.MaxNameLength));
    }

    [Fact]
    public void ExtendedAttributes_Entry_ListedInOrdinalOrderAndReadByName()
    {
        var file = E.File(2, "/f", 1) with { ExtendedAttributes = new Dictionary<string, byte[]> { ["user.b"] = [2], ["user.a"] = [1] } };
        var fileSystem = new ChunkIndexFileSystem(new E(1, E.Directory(1, "/"), file), new TruncatedContentReader(1));

        Assert.Equal(["user.a", "user.b"], fileSystem.ListExtendedAttributes(2));
        Assert.Equal([2], fileSystem.GetExtendedAttribute(2, "user.b"));
        Assert.Null(fileSystem.GetExtendedAttribute(2, "user.c"));
        Assert.Empty(fileSystem.ListExtendedAttributes(1));
    }
}
