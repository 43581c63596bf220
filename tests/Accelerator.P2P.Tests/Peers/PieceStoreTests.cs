using Accelerator.P2P.Peers;

namespace Accelerator.P2P.Tests.Peers;

public sealed class PieceStoreTests : IDisposable
{
    private const int PieceSize = 1000;
    private static readonly Digest Task = Digest.Compute("task"u8);
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "accel-piecestore-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    private static byte[] Piece(int seed, int size = PieceSize)
    {
        byte[] data = new byte[size];
        new Random(seed).NextBytes(data);
        return data;
    }

    private static void Put(PieceStore store, int index, byte[] data, Digest? task = null)
        => Assert.True(store.Put(task ?? Task, PieceSize, index, Digest.Compute(data), data));

    [Fact]
    public void Read_StoredPiece_ReturnsItsBytes()
    {
        var store = PieceStore.Open(_dir, 10_000);
        byte[] data = Piece(1, 700);
        Put(store, 3, data);

        byte[] buffer = new byte[PieceSize];
        Assert.Equal(700, store.Read(Task, PieceSize, 3, buffer));
        Assert.Equal(data, buffer[..700]);
        Assert.Equal(-1, store.Read(Task, PieceSize, 4, buffer));
        Assert.Equal(-1, store.Read(Task, PieceSize * 2, 3, buffer));
        Assert.Equal(700, store.Bytes);
    }

    [Theory]
    [InlineData(4096)]
    [InlineData(10_000)]
    [InlineData(65_537)]
    public void Put_PieceOfAnyLength_FileHoldsExactlyItsBytes(int length)
    {
        // Large pieces are written with O_DIRECT where the file system allows it: padded to the block size, then truncated.
        var store = PieceStore.Open(_dir, 1_000_000, memoryCacheBytes: 0);
        byte[] data = Piece(9, length);
        Assert.True(store.Put(Task, 100_000, 0, Digest.Compute(data), data));
        string file = Directory.EnumerateFiles(Path.Combine(_dir, "pieces"), "*", SearchOption.AllDirectories).Single();

        Assert.Equal(data, File.ReadAllBytes(file));
        byte[] buffer = new byte[100_000];
        Assert.Equal(length, store.Read(Task, 100_000, 0, buffer));
        Assert.Equal(data, buffer[..length]);
    }

    [Fact]
    public void Read_PieceCorruptedAtRest_CaughtByTheCheckRecordedWhenStoredAndDropped()
    {
        var store = PieceStore.Open(_dir, 10_000);
        byte[] data = Piece(5);
        Put(store, 0, data);
        string file = Directory.EnumerateFiles(Path.Combine(_dir, "pieces"), "*", SearchOption.AllDirectories).Single();
        Assert.Matches(@"^0\.[0-9a-f]{64}\.[0-9a-f]{16}$", Path.GetFileName(file));
        byte[] bytes = File.ReadAllBytes(file);
        bytes[PieceSize / 2] ^= 0x01; // same length, one bit
        File.WriteAllBytes(file, bytes);
        var reopened = PieceStore.Open(_dir, 10_000);

        Assert.Equal(-1, reopened.Read(Task, PieceSize, 0, new byte[PieceSize]));
        Assert.False(reopened.Contains(Task, PieceSize, 0));
        Assert.Equal(1, reopened.CorruptPieces);
        Assert.False(File.Exists(file));
    }

    [Fact]
    public void Read_PieceFromAStoreWithoutAtRestChecks_VerifiedWithItsSha256()
    {
        var store = PieceStore.Open(_dir, 10_000);
        Put(store, 0, Piece(6));
        Put(store, 1, Piece(7));
        var files = Directory.EnumerateFiles(Path.Combine(_dir, "pieces"), "*", SearchOption.AllDirectories).Order().ToArray();
        foreach (string file in files)
        {
            // The older name: INDEX.SHA256HEX.
            File.Move(file, file[..file.LastIndexOf('.')]);
        }

        string second = files[1][..files[1].LastIndexOf('.')];
        byte[] bytes = File.ReadAllBytes(second);
        bytes[0] ^= 0x01;
        File.WriteAllBytes(second, bytes);
        var reopened = PieceStore.Open(_dir, 10_000);
        byte[] buffer = new byte[PieceSize];

        Assert.Equal(PieceSize, reopened.Read(Task, PieceSize, 0, buffer));
        Assert.Equal(Piece(6), buffer);
        Assert.Equal(-1, reopened.Read(Task, PieceSize, 1, buffer));
        Assert.Equal(1, reopened.CorruptPieces);
    }

    [Theory]
    [InlineData("0.{sha}.")]
    [InlineData("0.{sha}.0123456789ABCDEF")]
    [InlineData("0.{sha}.0123456789abcde")]
    [InlineData("0.{sha}.0123456789abcdef0")]
    [InlineData("0.{sha}.0123456789abcdeg")]
    [InlineData("0.{sha}.0123456789abcdef.1")]
    [InlineData("x.{sha}.0123456789abcdef")]
    public void Open_MalformedPieceNames_Ignored(string name)
    {
        string dir = Path.Combine(_dir, "pieces", $"{Task.Algorithm}-{Task.Encoded}-{PieceSize}");
        Directory.CreateDirectory(dir);
        File.WriteAllBytes(Path.Combine(dir, name.Replace("{sha}", Digest.Compute(Piece(1)).Encoded, StringComparison.Ordinal)), Piece(1));

        var store = PieceStore.Open(_dir, 10_000);

        Assert.Empty(store.List(Task, PieceSize));
        Assert.Equal(0, store.Bytes);
    }

    [Fact]
    public async Task NextStored_CompletesWhenAPieceIsStored()
    {
        var store = PieceStore.Open(_dir, 10_000);
        var next = store.NextStored;
        Assert.False(next.IsCompleted);

        Put(store, 0, Piece(8));

        await next.WaitAsync(TimeSpan.FromMinutes(1));
        Assert.False(store.NextStored.IsCompleted);
    }

    [Fact]
    public void Open_AfterRestart_KeepsPiecesAndDropsUnfinishedWrites()
    {
        var store = PieceStore.Open(_dir, 10_000);
        Put(store, 0, Piece(1));
        Put(store, 1, Piece(2));
        string taskDir = Directory.GetDirectories(Path.Combine(_dir, "pieces")).Single();
        File.WriteAllBytes(Path.Combine(taskDir, ".tmp-crashed"), Piece(3));
        File.WriteAllBytes(Path.Combine(taskDir, "junk"), Piece(4));

        var reopened = PieceStore.Open(_dir, 10_000);

        Assert.True(reopened.Contains(Task, PieceSize, 0));
        Assert.True(reopened.Contains(Task, PieceSize, 1));
        Assert.Equal([0, 1], reopened.List(Task, PieceSize).Select(p => p.Index));
        Assert.Equal(2 * PieceSize, reopened.Bytes);
        Assert.False(File.Exists(Path.Combine(taskDir, ".tmp-crashed")));
        byte[] buffer = new byte[PieceSize];
        Assert.Equal(PieceSize, reopened.Read(Task, PieceSize, 1, buffer));
        Assert.Equal(Piece(2), buffer);
    }

    private string PieceFile(int index)
        => Directory.GetFiles(Directory.GetDirectories(Path.Combine(_dir, "pieces")).Single(), $"{index}.*").Single();

    private static void Corrupt(string file)
    {
        byte[] bytes = File.ReadAllBytes(file);
        bytes[10] ^= 1;
        File.WriteAllBytes(file, bytes);
    }

    [Fact]
    public void Read_PieceInMemoryCache_ServedWithoutDiskRead()
    {
        var store = PieceStore.Open(_dir, 10_000, memoryCacheBytes: 3 * PieceSize);
        Put(store, 0, Piece(1));
        File.Delete(PieceFile(0)); // only the verified copy in memory can answer now

        byte[] buffer = new byte[PieceSize];
        Assert.Equal(PieceSize, store.Read(Task, PieceSize, 0, buffer));
        Assert.Equal(Piece(1), buffer);
        Assert.Equal(1, store.MemoryHits);
        Assert.Equal(PieceSize, store.MemoryBytes);
    }

    [Fact]
    public void Put_BeyondMemoryCacheBound_EvictsLeastRecentlyUsedCopies()
    {
        var store = PieceStore.Open(_dir, 100 * PieceSize, memoryCacheBytes: 2 * PieceSize + 10);
        byte[] buffer = new byte[PieceSize];
        Put(store, 0, Piece(0));
        Put(store, 1, Piece(1));
        Assert.Equal(PieceSize, store.Read(Task, PieceSize, 0, buffer)); // 0 is now more recent than 1
        Put(store, 2, Piece(2));

        Assert.Equal(2 * PieceSize, store.MemoryBytes);
        long hits = store.MemoryHits;
        Assert.Equal(PieceSize, store.Read(Task, PieceSize, 1, buffer)); // evicted from memory: read from disk
        Assert.Equal(Piece(1), buffer);
        Assert.Equal(hits, store.MemoryHits);
        Assert.Equal(PieceSize, store.Read(Task, PieceSize, 0, buffer));
        Assert.Equal(PieceSize, store.Read(Task, PieceSize, 2, buffer));
        Assert.Equal(hits + 2, store.MemoryHits);
        Assert.Equal(2 * PieceSize, store.MemoryBytes); // a disk read does not enter the cache
    }

    [Fact]
    public void Read_PieceEvictedFromMemoryAndCorruptedOnDisk_NeverServed()
    {
        var store = PieceStore.Open(_dir, 100 * PieceSize, memoryCacheBytes: PieceSize);
        Put(store, 0, Piece(0));
        Put(store, 1, Piece(1)); // pushes piece 0 out of memory
        Corrupt(PieceFile(0));
        Corrupt(PieceFile(1));

        byte[] buffer = new byte[PieceSize];
        Assert.Equal(-1, store.Read(Task, PieceSize, 0, buffer));
        Assert.False(store.Contains(Task, PieceSize, 0));
        Assert.Equal(1, store.CorruptPieces);
        // Piece 1 is still the verified copy in memory: its bytes, not the disk's.
        Assert.Equal(PieceSize, store.Read(Task, PieceSize, 1, buffer));
        Assert.Equal(Piece(1), buffer);
    }

    [Fact]
    public void DeleteTask_PiecesInMemory_DroppedFromCacheToo()
    {
        var store = PieceStore.Open(_dir, 100 * PieceSize, memoryCacheBytes: 10 * PieceSize);
        Put(store, 0, Piece(0));
        Put(store, 1, Piece(1));

        store.DeleteTask(Task, PieceSize);

        Assert.Equal(0, store.MemoryBytes);
        Assert.Equal(-1, store.Read(Task, PieceSize, 0, new byte[PieceSize]));
    }

    [Fact]
    public void Put_OverDiskCapacity_EvictedPieceLeavesMemoryToo()
    {
        var store = PieceStore.Open(_dir, 2 * PieceSize, memoryCacheBytes: 10 * PieceSize);
        Put(store, 0, Piece(0));
        Put(store, 1, Piece(1));
        Put(store, 2, Piece(2));

        Assert.False(store.Contains(Task, PieceSize, 0));
        Assert.Equal(2 * PieceSize, store.MemoryBytes);
        Assert.Equal(-1, store.Read(Task, PieceSize, 0, new byte[PieceSize]));
    }

    [Fact]
    public void Read_PieceCorruptedOnDisk_DetectedAndDeleted()
    {
        var store = PieceStore.Open(_dir, 10_000);
        Put(store, 0, Piece(1));
        string file = Directory.GetFiles(Directory.GetDirectories(Path.Combine(_dir, "pieces")).Single()).Single();
        byte[] bytes = File.ReadAllBytes(file);
        bytes[10] ^= 1;
        File.WriteAllBytes(file, bytes);

        Assert.Equal(-1, store.Read(Task, PieceSize, 0, new byte[PieceSize]));
        Assert.False(store.Contains(Task, PieceSize, 0));
        Assert.False(File.Exists(file));
        Assert.Equal(1, store.CorruptPieces);
        Assert.Equal(0, store.Bytes);
    }

    [Fact]
    public void Read_PieceTruncatedOnDiskAfterRestart_Detected()
    {
        var store = PieceStore.Open(_dir, 10_000);
        Put(store, 0, Piece(1));
        string file = Directory.GetFiles(Directory.GetDirectories(Path.Combine(_dir, "pieces")).Single()).Single();
        File.WriteAllBytes(file, Piece(1)[..500]);

        var reopened = PieceStore.Open(_dir, 10_000);
        Assert.Equal(-1, reopened.Read(Task, PieceSize, 0, new byte[PieceSize]));
        Assert.False(reopened.Contains(Task, PieceSize, 0));
    }

    [Fact]
    public void Put_OverCapacity_EvictsLeastRecentlyUsed()
    {
        var store = PieceStore.Open(_dir, 3 * PieceSize);
        Put(store, 0, Piece(0));
        Put(store, 1, Piece(1));
        Put(store, 2, Piece(2));
        store.Read(Task, PieceSize, 0, new byte[PieceSize]); // 1 is now the least recently used

        Put(store, 3, Piece(3));

        Assert.False(store.Contains(Task, PieceSize, 1));
        Assert.True(store.Contains(Task, PieceSize, 0));
        Assert.True(store.Contains(Task, PieceSize, 2));
        Assert.True(store.Contains(Task, PieceSize, 3));
        Assert.Equal(1, store.Evictions);
        Assert.Equal(3 * PieceSize, store.Bytes);
        Assert.Equal(3, Directory.GetFiles(Directory.GetDirectories(Path.Combine(_dir, "pieces")).Single()).Length);
    }

    [Fact]
    public void Put_PinnedTask_NotEvictedAndRefusedWhenNoRoom()
    {
        var store = PieceStore.Open(_dir, 2 * PieceSize);
        var other = Digest.Compute("other"u8);
        Put(store, 0, Piece(0));
        Put(store, 1, Piece(1));
        using (store.Pin(Task, PieceSize))
        {
            Assert.False(store.Put(other, PieceSize, 0, Digest.Compute(Piece(2)), Piece(2)));
            Assert.True(store.Contains(Task, PieceSize, 0));
        }

        Put(store, 0, Piece(2), other);
        Assert.True(store.Contains(other, PieceSize, 0));
        Assert.Equal(2 * PieceSize, store.Bytes);
    }

    [Fact]
    public void Open_OverCapacityAfterRestart_EvictsDownToCapacity()
    {
        var store = PieceStore.Open(_dir, 10 * PieceSize);
        for (int i = 0; i < 5; i++)
        {
            Put(store, i, Piece(i));
        }

        var smaller = PieceStore.Open(_dir, 2 * PieceSize);

        Assert.Equal(2 * PieceSize, smaller.Bytes);
        Assert.Equal(2, smaller.List(Task, PieceSize).Count);
    }

    [Fact]
    public void DeleteTask_RemovesEveryPieceOfTheTaskOnly()
    {
        var store = PieceStore.Open(_dir, 10 * PieceSize);
        var other = Digest.Compute("other"u8);
        Put(store, 0, Piece(0));
        Put(store, 1, Piece(1));
        Put(store, 0, Piece(2), other);

        store.DeleteTask(Task, PieceSize);

        Assert.Empty(store.List(Task, PieceSize));
        Assert.Single(store.List(other, PieceSize));
        Assert.Equal(PieceSize, store.Bytes);
    }
}
