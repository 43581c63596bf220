using System.Globalization;
using System.IO.Hashing;
using System.Security.Cryptography;
using Accelerator.Linux;
using Accelerator.P2P.Protocol;

namespace Accelerator.P2P.Peers;

/// <summary>
/// A peer's pieces on disk: one directory per task and piece size, one file per piece named by its index, its sha256
/// and the XxHash3 of its bytes (<c>pieces/sha256-HEX-PIECESIZE/INDEX.SHA256HEX.XXH3HEX</c>), written to a temporary file
/// and renamed, so a crash leaves whole pieces or nothing. Survives restarts (the directory is scanned at open), bounded
/// by a byte capacity with least-recently-used eviction (pieces of pinned tasks are kept), and checked on reuse: a piece
/// read from disk must match the XxHash3 recorded when its sha256-verified bytes were written (files of older stores,
/// named without one, are re-hashed with sha256), and is deleted when it does not.
/// <para>
/// A bounded in-memory cache (least recently used out) keeps copies of the pieces most recently stored. They were
/// verified by the caller on arrival and never leave memory, so reading them needs no re-hash; only pieces read back
/// from disk are hashed again. Pieces read from disk are not added to the cache, so a scan of a whole blob larger than
/// the cache does not flush it.
/// </para>
/// </summary>
internal sealed class PieceStore
{
    private readonly string _root;
    private readonly long _capacity;
    private readonly Lock _lock = new();
    private readonly Dictionary<PieceKey, Entry> _entries = [];
    private readonly Dictionary<(Digest Task, int PieceSize), int> _pins = [];
    private readonly Dictionary<PieceKey, int> _piecePins = [];
    private readonly Dictionary<PieceKey, CachedPiece> _memory = [];
    private readonly long _memoryCapacity;
    private long _memoryBytes;
    private long _memoryHits;
    private long _clock;
    private long _bytes;
    private long _evictions;
    private long _corrupt;
    // Pieces that left the store (evicted, corrupt, deleted) and are not yet announced to the scheduler; bounded, as
    // announcing is an optimisation (a child sent for a piece that is gone gets a 404 and is rescheduled).
    private readonly Queue<PieceKey> _removed = new();
    private const int MaxRemembered = 65_536;
    private readonly AsyncPulse _stored = new();

    private PieceStore(string root, long capacity, long memoryCapacity)
    {
        _root = root;
        _capacity = capacity;
        _memoryCapacity = memoryCapacity;
    }

    /// <summary>Bytes held by the in-memory cache of verified pieces.</summary>
    public long MemoryBytes
    {
        get
        {
            lock (_lock)
            {
                return _memoryBytes;
            }
        }
    }

    /// <summary>Reads answered from the in-memory cache (no disk read, no re-hash).</summary>
    public long MemoryHits => Interlocked.Read(ref _memoryHits);

    /// <summary>Bytes stored.</summary>
    public long Bytes
    {
        get
        {
            lock (_lock)
            {
                return _bytes;
            }
        }
    }

    /// <summary>Pieces evicted to stay under the capacity.</summary>
    public long Evictions => Interlocked.Read(ref _evictions);

    /// <summary>Takes the pieces that left the store since the last call (evicted, found corrupt, deleted), oldest first.</summary>
    public IReadOnlyList<(Digest Task, int PieceSize, int Index)> TakeRemoved()
    {
        lock (_lock)
        {
            var removed = _removed.Select(k => (k.Task, k.PieceSize, k.Index)).ToList();
            _removed.Clear();
            return removed;
        }
    }
    /// <summary>Completes when the next piece is stored (take it before checking, then await it).</summary>
    public Task NextStored => _stored.Next;

    /// <summary>Pieces found corrupt on disk (and deleted).</summary>
    public long CorruptPieces => Interlocked.Read(ref _corrupt);

    // Created 0600: a piece of a private blob is readable by the peer only (a umask cannot widen it).
    private static readonly FileStreamOptions PieceFileOptions = NewPieceFileOptions();

    private static FileStreamOptions NewPieceFileOptions()
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None, BufferSize = 0 };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        return options;
    }

    /// <summary>
    /// Opens (creating) the store under <paramref name="directory"/>, indexing the pieces already there, with an
    /// in-memory cache of up to <paramref name="memoryCacheBytes"/> of recently stored pieces (0: none).
    /// </summary>
    public static PieceStore Open(string directory, long capacityBytes, long memoryCacheBytes = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(memoryCacheBytes);
        // Pieces of private blobs: the data directory and the store are the peer's alone (0700), each piece 0600.
        string root = PrivateDirectory.Create(Path.Combine(PrivateDirectory.Create(directory), "pieces"));
        var store = new PieceStore(root, capacityBytes, memoryCacheBytes);
        store.Scan();
        return store;
    }

    /// <summary>Whether the piece is stored (not checked against its bytes until read).</summary>
    public bool Contains(Digest task, int pieceSize, int index)
    {
        lock (_lock)
        {
            return _entries.ContainsKey(new PieceKey(task, pieceSize, index));
        }
    }

    /// <summary>The digest the piece is stored under, or <see langword="null"/>.</summary>
    public Digest? GetDigest(Digest task, int pieceSize, int index)
    {
        lock (_lock)
        {
            return _entries.TryGetValue(new PieceKey(task, pieceSize, index), out var entry) ? entry.Digest : null;
        }
    }

    /// <summary>The stored pieces of a task: index and digest.</summary>
    public IReadOnlyList<(int Index, Digest Digest)> List(Digest task, int pieceSize)
    {
        lock (_lock)
        {
            return [.. _entries.Where(e => e.Key.Task == task && e.Key.PieceSize == pieceSize).Select(e => (e.Key.Index, e.Value.Digest)).OrderBy(e => e.Index)];
        }
    }

    /// <summary>Keeps a task's pieces from eviction until the returned handle is disposed.</summary>
    public IDisposable Pin(Digest task, int pieceSize)
    {
        lock (_lock)
        {
            _pins[(task, pieceSize)] = _pins.GetValueOrDefault((task, pieceSize)) + 1;
        }

        return new Pinned(this, task, pieceSize, null);
    }

    /// <summary>Keeps some pieces of a task (those a ranged read covers) from eviction until the handle is disposed.</summary>
    public IDisposable Pin(Digest task, int pieceSize, IReadOnlyList<int> indexes)
    {
        lock (_lock)
        {
            foreach (int index in indexes)
            {
                var key = new PieceKey(task, pieceSize, index);
                _piecePins[key] = _piecePins.GetValueOrDefault(key) + 1;
            }
        }

        return new Pinned(this, task, pieceSize, indexes);
    }

    /// <summary>
    /// Stores a piece whose bytes the caller verified against <paramref name="digest"/> (hashing again here would
    /// double the cost). Evicts least-recently-used unpinned pieces to make room; returns <see langword="false"/> when
    /// there is no room even so.
    /// </summary>
    public bool Put(Digest task, int pieceSize, int index, Digest digest, ReadOnlySpan<byte> data)
    {
        var key = new PieceKey(task, pieceSize, index);
        lock (_lock)
        {
            if (_entries.ContainsKey(key))
            {
                return true;
            }

            if (!MakeRoom(data.Length))
            {
                return false;
            }

            // Reserve the bytes now so concurrent writers do not overshoot the capacity.
            _bytes += data.Length;
        }

        // Recorded at rest with the bytes the caller verified: reading them back checks this (GB/s), not sha256 again.
        ulong check = XxHash3.HashToUInt64(data);
        string directory = TaskDirectory(task, pieceSize);
        string path = Path.Combine(directory, $"{index.ToString(CultureInfo.InvariantCulture)}.{digest.Encoded}.{check:x16}");
        string temp = Path.Combine(directory, $".tmp-{Guid.NewGuid():N}");
        try
        {
            Directory.CreateDirectory(directory);
            using (var file = new FileStream(temp, PieceFileOptions))
            {
                DirectWriter.Write(file.SafeFileHandle, data);
            }

            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            lock (_lock)
            {
                _bytes -= data.Length;
            }

            // A write cut short (ENOSPC, EIO) leaves no part behind: its space is needed, and only complete pieces,
            // renamed into place, are ever indexed.
            DeleteQuietly(temp);
            throw;
        }

        lock (_lock)
        {
            if (!_entries.TryAdd(key, new Entry(path, data.Length, digest, ++_clock, check)))
            {
                _bytes -= data.Length;
                return true;
            }
        }

        Remember(key, digest, data);
        _stored.Pulse();
        return true;
    }

    /// <summary>
    /// Reads a piece into <paramref name="buffer"/> (at least the piece's length) and checks it.
    /// Returns the length, or -1 when the piece is missing or was corrupt (then it is deleted).
    /// </summary>
    public int Read(Digest task, int pieceSize, int index, Span<byte> buffer)
    {
        if (TryGetCached(task, pieceSize, index, out var cached))
        {
            cached.Span.CopyTo(buffer);
            return cached.Length;
        }

        return ReadFromDisk(new PieceKey(task, pieceSize, index), buffer);
    }

    /// <summary>
    /// A piece's checked bytes without a copy when they are in the memory cache (the returned memory is never written
    /// again), else read from disk into <paramref name="buffer"/>. False when the piece is missing or was corrupt.
    /// </summary>
    public bool TryRead(Digest task, int pieceSize, int index, byte[] buffer, out ReadOnlyMemory<byte> data)
    {
        if (TryGetCached(task, pieceSize, index, out data))
        {
            return true;
        }

        int n = ReadFromDisk(new PieceKey(task, pieceSize, index), buffer);
        data = n < 0 ? default : buffer.AsMemory(0, n);
        return n >= 0;
    }

    /// <summary>A piece's bytes when the memory cache holds them (verified on arrival; the memory is never written again).</summary>
    public bool TryGetCached(Digest task, int pieceSize, int index, out ReadOnlyMemory<byte> data)
    {
        var key = new PieceKey(task, pieceSize, index);
        lock (_lock)
        {
            if (_entries.TryGetValue(key, out var entry) && _memory.TryGetValue(key, out var cached) && cached.Digest == entry.Digest)
            {
                entry.LastUse = ++_clock;
                cached.LastUse = entry.LastUse;
                Interlocked.Increment(ref _memoryHits);
                // Verified when it arrived and never written since: served without a check.
                data = cached.Data;
                return true;
            }
        }

        data = default;
        return false;
    }

    private int ReadFromDisk(PieceKey key, Span<byte> buffer)
    {
        Entry entry;
        lock (_lock)
        {
            if (!_entries.TryGetValue(key, out entry!))
            {
                return -1;
            }

            entry.LastUse = ++_clock;
        }

        int length = (int)entry.Length;
        try
        {
            using var handle = File.OpenHandle(entry.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            int total = 0;
            while (total < length)
            {
                int n = RandomAccess.Read(handle, buffer[total..length], total);
                if (n == 0)
                {
                    break;
                }

                total += n;
            }

            if (total == length && RandomAccess.GetLength(handle) == length && Matches(entry, buffer[..length]))
            {
                return length;
            }
        }
        catch (FileNotFoundException)
        {
        }
        catch (DirectoryNotFoundException)
        {
        }

        Interlocked.Increment(ref _corrupt);
        Remove(key);
        return -1;
    }

    /// <summary>Deletes every piece of a task (after its blob failed its digest).</summary>
    public void DeleteTask(Digest task, int pieceSize)
    {
        List<PieceKey> keys;
        lock (_lock)
        {
            keys = [.. _entries.Keys.Where(k => k.Task == task && k.PieceSize == pieceSize)];
        }

        foreach (var key in keys)
        {
            Remove(key);
        }
    }

    private static bool Matches(Entry entry, ReadOnlySpan<byte> data)
    {
        if (entry.Check is ulong check)
        {
            return XxHash3.HashToUInt64(data) == check;
        }

        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(data, hash);
        return Digest.FromHash(Digest.Sha256, hash) == entry.Digest;
    }

    private void Remove(PieceKey key)
    {
        Entry? entry;
        lock (_lock)
        {
            Forget(key);
            if (!_entries.Remove(key, out entry))
            {
                return;
            }

            _bytes -= entry.Length;
            NoteRemoved(key);
        }

        try
        {
            File.Delete(entry.Path);
        }
        catch (IOException)
        {
            // Already gone, or busy: the index no longer lists it, and a rescan re-verifies whatever is left.
        }
    }

    /// <summary>Keeps a copy of a piece the caller verified, evicting the least recently used copies beyond the bound.</summary>
    private void Remember(PieceKey key, Digest digest, ReadOnlySpan<byte> data)
    {
        if (data.Length == 0 || data.Length > _memoryCapacity)
        {
            return;
        }

        byte[] copy = GC.AllocateUninitializedArray<byte>(data.Length);
        data.CopyTo(copy);
        lock (_lock)
        {
            if (!_entries.TryGetValue(key, out var entry) || entry.Digest != digest || _memory.ContainsKey(key))
            {
                return; // removed (or replaced) meanwhile
            }

            while (_memoryBytes + copy.Length > _memoryCapacity)
            {
                PieceKey victim = default;
                long oldest = long.MaxValue;
                foreach (var (cachedKey, cached) in _memory)
                {
                    if (cached.LastUse < oldest)
                    {
                        oldest = cached.LastUse;
                        victim = cachedKey;
                    }
                }

                Forget(victim);
            }

            _memory[key] = new CachedPiece(copy, digest, entry.LastUse);
            _memoryBytes += copy.Length;
        }
    }

    /// <summary>Remembers a piece that left the store, for <see cref="TakeRemoved"/> (caller holds the lock).</summary>
    private void NoteRemoved(PieceKey key)
    {
        if (_removed.Count < MaxRemembered)
        {
            _removed.Enqueue(key);
        }
    }

    /// <summary>Drops the in-memory copy of a piece (caller holds the lock).</summary>
    private void Forget(PieceKey key)
    {
        if (_memory.Remove(key, out var cached))
        {
            _memoryBytes -= cached.Data.Length;
        }
    }

    private bool MakeRoom(long needed)
    {
        if (needed > _capacity)
        {
            return false;
        }

        while (_bytes + needed > _capacity)
        {
            PieceKey? victim = null;
            long oldest = long.MaxValue;
            foreach (var (key, entry) in _entries)
            {
                if (entry.LastUse < oldest && !_pins.ContainsKey((key.Task, key.PieceSize)) && !_piecePins.ContainsKey(key))
                {
                    oldest = entry.LastUse;
                    victim = key;
                }
            }

            if (victim is not PieceKey chosen)
            {
                return false;
            }

            var removed = _entries[chosen];
            _entries.Remove(chosen);
            Forget(chosen);
            _bytes -= removed.Length;
            _evictions++;
            NoteRemoved(chosen);
            try
            {
                File.Delete(removed.Path);
            }
            catch (IOException)
            {
            }
        }

        return true;
    }

    private string TaskDirectory(Digest task, int pieceSize)
        => Path.Combine(_root, $"{task.Algorithm}-{task.Encoded}-{pieceSize.ToString(CultureInfo.InvariantCulture)}");

    private void Scan()
    {
        var found = new List<(PieceKey Key, Entry Entry, DateTime Time)>();
        foreach (string directory in Directory.EnumerateDirectories(_root))
        {
            string name = Path.GetFileName(directory);
            string[] parts = name.Split('-');
            if (parts.Length != 3 || !Digest.TryParse($"{parts[0]}:{parts[1]}", out var task)
                || !int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out int pieceSize) || pieceSize <= 0)
            {
                continue;
            }

            foreach (string file in Directory.EnumerateFiles(directory))
            {
                string fileName = Path.GetFileName(file);
                if (fileName.StartsWith(".tmp-", StringComparison.Ordinal))
                {
                    File.Delete(file); // a write that never finished
                    continue;
                }

                // INDEX.SHA256HEX.XXH3HEX, or INDEX.SHA256HEX from a store written before the at-rest check.
                string[] fields = fileName.Split('.');
                ulong? check = null;
                if (fields.Length is < 2 or > 3 || !int.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out int index)
                    || !Digest.TryParse($"{Digest.Sha256}:{fields[1]}", out var digest)
                    || (fields.Length == 3 && !TryParseCheck(fields[2], out check)))
                {
                    continue;
                }

                var info = new FileInfo(file);
                found.Add((new PieceKey(task, pieceSize, index), new Entry(file, info.Length, digest, 0, check), info.LastWriteTimeUtc));
            }
        }

        // Oldest files first, so the least recently written pieces are evicted first after a restart.
        foreach (var (key, entry, _) in found.OrderBy(f => f.Time))
        {
            entry.LastUse = ++_clock;
            _entries[key] = entry;
            _bytes += entry.Length;
        }

        lock (_lock)
        {
            MakeRoom(0);
        }
    }

    private static bool TryParseCheck(string text, out ulong? check)
    {
        check = null;
        if (text.Length != 16 || !text.All(char.IsAsciiHexDigitLower)
            || !ulong.TryParse(text, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong value))
        {
            return false;
        }

        check = value;
        return true;
    }

    private void Unpin(Digest task, int pieceSize, IReadOnlyList<int>? indexes)
    {
        lock (_lock)
        {
            if (indexes is null)
            {
                Decrement(_pins, (task, pieceSize));
                return;
            }

            foreach (int index in indexes)
            {
                Decrement(_piecePins, new PieceKey(task, pieceSize, index));
            }
        }
    }

    private static void Decrement<TKey>(Dictionary<TKey, int> counts, TKey key) where TKey : notnull
    {
        int count = counts.GetValueOrDefault(key) - 1;
        if (count <= 0)
        {
            counts.Remove(key);
        }
        else
        {
            counts[key] = count;
        }
    }

    private readonly record struct PieceKey(Digest Task, int PieceSize, int Index);

    private sealed class Entry(string path, long length, Digest digest, long lastUse, ulong? check)
    {
        /// <summary>XxHash3 of the verified bytes, recorded when they were written; null for files of older stores.</summary>
        public ulong? Check { get; } = check;

        public string Path { get; } = path;

        public long Length { get; } = length;

        public Digest Digest { get; } = digest;

        public long LastUse { get; set; } = lastUse;
    }

    private sealed class CachedPiece(byte[] data, Digest digest, long lastUse)
    {
        public byte[] Data { get; } = data;

        public Digest Digest { get; } = digest;

        public long LastUse { get; set; } = lastUse;
    }

    private sealed class Pinned(PieceStore store, Digest task, int pieceSize, IReadOnlyList<int>? indexes) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                store.Unpin(task, pieceSize, indexes);
            }
        }
    }

    private static void DeleteQuietly(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
    }
}
