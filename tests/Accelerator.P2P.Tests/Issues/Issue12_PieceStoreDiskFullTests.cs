using Accelerator.P2P.Peers;
using Accelerator.Testing.Host;

namespace Accelerator.P2P.Tests.Issues;

/// <summary>
/// Issue 12, B15: a piece write that ran out of space left its temporary file behind (only a restart's scan removed
/// it), holding on to the space the next write needed. Now the failed write is removed at once, nothing is indexed,
/// and once there is room the same piece stores and reads back.
/// </summary>
public sealed class Issue12_PieceStoreDiskFullTests
{
    private const int PieceSize = 4 * 1024 * 1024;

    [Fact]
    public void Put_DiskFull_LeavesNoFileOrEntryAndRetryWithRoomSucceeds()
    {
        using var disk = SmallTmpfs.Mount(1024 * 1024);
        var store = PieceStore.Open(disk.Path, 1L << 30);
        byte[] piece = new byte[2 * 1024 * 1024];
        new Random(12).NextBytes(piece);
        var task = Digest.Compute("blob"u8.ToArray());
        var digest = Digest.Compute(piece);

        Assert.ThrowsAny<IOException>(() => store.Put(task, PieceSize, 0, digest, piece));

        Assert.False(store.Contains(task, PieceSize, 0));
        Assert.Empty(Directory.EnumerateFiles(disk.Path, "*", SearchOption.AllDirectories));

        disk.Resize(16 * 1024 * 1024);
        Assert.True(store.Put(task, PieceSize, 0, digest, piece));
        byte[] buffer = new byte[PieceSize];
        Assert.Equal(piece.Length, store.Read(task, PieceSize, 0, buffer));
        Assert.Equal(piece, buffer[..piece.Length]);
    }
}
