using System.Buffers;
using System.IO.Enumeration;
using System.Security.Cryptography;
using Accelerator.Linux;

namespace Accelerator.Chunks.Caching;

public sealed partial class ChunkCache
{
    private void Initialize()
    {
        // 0700, and tightened when an older version left it 0755: cached chunks of private images are no one else's.
        PrivateDirectory.Create(Directory);

        System.IO.Directory.CreateDirectory(ChunksDirectory);
        System.IO.Directory.CreateDirectory(TemporaryDirectory);
        DeleteStaleTemporaryFiles();

        var found = new List<(Digest Digest, long Size, DateTime Written)>();
        foreach (string prefix in System.IO.Directory.EnumerateDirectories(ChunksDirectory))
        {
            string prefixName = System.IO.Path.GetFileName(prefix);
            var files = new FileSystemEnumerable<(string Name, long Size, DateTime Written, bool IsFile)>(
                prefix, (ref FileSystemEntry e) => (e.FileName.ToString(), e.Length, e.LastWriteTimeUtc.UtcDateTime, !e.IsDirectory));
            foreach (var (name, size, written, isFile) in files)
            {
                // Only files named by a digest in the right prefix directory are chunks; anything else is left alone.
                if (!isFile || !name.StartsWith(prefixName, StringComparison.Ordinal) || !Digest.TryParse($"{Digest.Sha256}:{name}", out Digest digest) || prefixName.Length != 2)
                {
                    continue;
                }

                if (size is < 1 or > MaxChunkSize)
                {
                    _corrupt++;
                    DeleteFile(System.IO.Path.Combine(prefix, name));
                    continue;
                }

                found.Add((digest, size, written));
            }
        }

        lock (_sync)
        {
            foreach (var (digest, size, _) in found.OrderBy(f => f.Written))
            {
                var entry = new Entry(digest, (int)size) { State = EntryState.Unverified };
                entry.Node = _lru.AddLast(entry);
                _entries.Add(digest, entry);
                _bytes += size;
            }

            EvictLocked(keep: null);
            LogOpened(Directory, _lru.Count, _bytes);
        }
    }

    private void DeleteStaleTemporaryFiles()
    {
        DateTime cutoff = _time.GetUtcNow().UtcDateTime - Options.StaleTemporaryFileAge;
        foreach (string path in System.IO.Directory.EnumerateFiles(TemporaryDirectory))
        {
            if (File.GetLastWriteTimeUtc(path) <= cutoff)
            {
                DeleteFile(path);
            }
        }
    }

    private bool TryLoadFromDisk(Entry entry)
    {
        string path = GetChunkPath(entry.Digest);
        byte[]? buffer = null;
        bool valid = false;
        bool exists = false;
        try
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            exists = true;
            if (RandomAccess.GetLength(handle) == entry.Size)
            {
                buffer = ArrayPool<byte>.Shared.Rent(entry.Size);
                int total = 0;
                while (total < entry.Size)
                {
                    int n = RandomAccess.Read(handle, buffer.AsSpan(total, entry.Size - total), total);
                    if (n == 0)
                    {
                        break;
                    }

                    total += n;
                }

                valid = total == entry.Size && HashMatches(buffer.AsSpan(0, entry.Size), entry.Digest);
            }
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return false;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogReadFailed(path, ex.Message);
        }
        finally
        {
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        if (!valid)
        {
            if (exists)
            {
                LogCorrupt(path);
                lock (_sync)
                {
                    _corrupt++;
                    DeleteFile(path);
                }
            }

            return false;
        }

        CachedChunk chunk;
        lock (_sync)
        {
            if (_disposed || !_entries.TryGetValue(entry.Digest, out Entry? current) || !ReferenceEquals(current, entry))
            {
                // Disposed meanwhile: the claim was already failed.
                return true;
            }

            _loadedFromDisk++;
            chunk = MarkReadyLocked(entry);
        }

        entry.Pending!.TrySetResult(chunk);
        return true;
    }

    private CachedChunk Store(Entry entry, ReadOnlySpan<byte> verified)
    {
        if (verified.Length != entry.Size)
        {
            throw new ArgumentException($"Chunk {entry.Digest} has {entry.Size} bytes, not {verified.Length}.", nameof(verified));
        }

        string path = GetChunkPath(entry.Digest);
        string temporary = System.IO.Path.Combine(TemporaryDirectory, $"{entry.Digest.Encoded}.{Environment.ProcessId}.{Guid.NewGuid():N}");
        Exception? failure = null;
        try
        {
            System.IO.Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
            using (var handle = File.OpenHandle(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, FileOptions.None, entry.Size))
            {
                RandomAccess.Write(handle, verified, 0);
                if (Options.FlushToDisk)
                {
                    RandomAccess.FlushToDisk(handle);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            failure = ex;
        }

        CachedChunk chunk;
        lock (_sync)
        {
            bool current = !_disposed && _entries.TryGetValue(entry.Digest, out Entry? found) && ReferenceEquals(found, entry);
            if (failure is null && current)
            {
                try
                {
                    // rename(2) replaces atomically: a reader sees the old complete file or the new one, never a part.
                    File.Move(temporary, path, overwrite: true);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    failure = ex;
                }
            }

            if (failure is null && current)
            {
                _stored++;
                chunk = MarkReadyLocked(entry);
            }
            else
            {
                if (failure is not null)
                {
                    _storeFailures++;
                }

                if (current)
                {
                    Remove(entry);
                }

                chunk = new CachedChunk(entry.Digest, entry.Size, null, verified.ToArray(), null);
            }
        }

        if (failure is not null)
        {
            LogStoreFailed(entry.Digest.ToString(), failure.Message);
            DeleteFile(temporary);
        }
        else if (chunk.Path is null)
        {
            DeleteFile(temporary);
        }

        entry.Pending!.TrySetResult(chunk);
        return chunk;
    }

    private void Fail(Entry entry, Exception error)
    {
        lock (_sync)
        {
            if (_entries.TryGetValue(entry.Digest, out Entry? found) && ReferenceEquals(found, entry))
            {
                _entries.Remove(entry.Digest);
            }
        }

        if (error is OperationCanceledException canceled)
        {
            entry.Pending!.TrySetCanceled(canceled.CancellationToken);
        }
        else
        {
            entry.Pending!.TrySetException(error);
        }
    }

    private static bool HashMatches(ReadOnlySpan<byte> data, Digest digest)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(data, hash);
        return Digest.FromHash(Digest.Sha256, hash) == digest;
    }
}
