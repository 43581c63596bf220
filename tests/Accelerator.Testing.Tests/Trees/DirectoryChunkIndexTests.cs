using Accelerator.Testing.Interop;
using Accelerator.Testing.Trees;

namespace Accelerator.Testing.Tests.Trees;

public sealed class DirectoryChunkIndexTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("accel-dir-index-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void Build_Tree_IndexesEntriesLinksAndDirectoryLinkCounts()
    {
        Directory.CreateDirectory(Path.Combine(_root, "a/b"));
        File.WriteAllText(Path.Combine(_root, "a/file"), "content");
        UnixFile.CreateHardLink(Path.Combine(_root, "a/file"), Path.Combine(_root, "link"));
        File.CreateSymbolicLink(Path.Combine(_root, "sym"), "a/file");
        UnixFile.SetXattr(Path.Combine(_root, "a/file"), "user.k", "v"u8);

        using var index = DirectoryChunkIndex.Build(_root);

        var root = index.GetEntry(1)!;
        var a = index.Lookup(1, "a")!;
        var file = index.Lookup(a.Inode, "file")!;
        var link = index.Lookup(1, "link")!;
        var sym = index.Lookup(1, "sym")!;
        Assert.Equal((FileEntryType.Directory, "/", 3U), (root.Type, root.Path, root.LinkCount));
        Assert.Equal(3U, a.LinkCount);
        Assert.Equal((file.Inode, 2U), (link.Inode, link.LinkCount));
        Assert.Equal("v"u8.ToArray(), file.ExtendedAttributes!["user.k"]);
        Assert.Equal((FileEntryType.Symlink, "a/file", 6L), (sym.Type, sym.LinkTarget, sym.Size));
        Assert.Equal(["a", "link", "sym"], index.ReadDirectory(1).Select(e => e.Name));
        Assert.Equal(5, index.InodeCount);
    }

    [Fact]
    public async Task ReadAsync_AndGetChunks_DescribeTheRealContent()
    {
        byte[] content = new byte[(DirectoryChunkIndex.ChunkSize * 2) + 10];
        new Random(1).NextBytes(content);
        File.WriteAllBytes(Path.Combine(_root, "big"), content);
        using var index = DirectoryChunkIndex.Build(_root);
        ulong inode = index.Lookup(1, "big")!.Inode;

        byte[] buffer = new byte[100];
        int read = await index.ReadAsync(inode, DirectoryChunkIndex.ChunkSize - 50, buffer, CancellationToken.None);
        var chunks = index.GetChunks(inode);

        Assert.Equal(content.AsSpan(DirectoryChunkIndex.ChunkSize - 50, 100).ToArray(), buffer[..read]);
        Assert.Equal([0L, DirectoryChunkIndex.ChunkSize, 2L * DirectoryChunkIndex.ChunkSize], chunks.Select(c => c.FileOffset));
        Assert.Equal(Digest.Compute(content), chunks[0].Blob);
        Assert.Equal(Digest.Compute(content.AsSpan(2 * DirectoryChunkIndex.ChunkSize)), chunks[2].ChunkDigest);
        Assert.Empty(index.GetChunks(1));
    }
}
