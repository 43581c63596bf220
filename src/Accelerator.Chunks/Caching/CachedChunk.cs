using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Win32.SafeHandles;

namespace Accelerator.Chunks.Caching;

/// <summary>
/// A verified chunk: its file in the cache (read through a handle kept open while the chunk is in use), or — when it
/// could not be stored — its bytes in memory.
/// </summary>
public sealed class CachedChunk
{
    private readonly byte[]? _data;
    private readonly OpenChunkFiles? _files;
    private SafeFileHandle? _handle;

    internal CachedChunk(Digest digest, int size, string? path, byte[]? data, OpenChunkFiles? files)
    {
        Digest = digest;
        Size = size;
        Path = path;
        _data = data;
        _files = files;
    }

    /// <summary>The chunk's sha256 digest (of its uncompressed bytes).</summary>
    public Digest Digest { get; }

    /// <summary>The chunk's uncompressed length in bytes.</summary>
    public int Size { get; }

    /// <summary>The chunk's file in the cache; null when the chunk could not be stored and is held in memory.</summary>
    public string? Path { get; }

    /// <summary>
    /// Copies the chunk's bytes from <paramref name="offset"/> into <paramref name="destination"/> (which must fit in
    /// the chunk). Throws <see cref="ChunkVanishedException"/> when the file is gone or shorter than the chunk.
    /// </summary>
    public void Read(int offset, Span<byte> destination)
    {
        Debug.Assert(offset >= 0 && offset + destination.Length <= Size);
        if (_data is not null)
        {
            _data.AsSpan(offset, destination.Length).CopyTo(destination);
            return;
        }

        while (true)
        {
            SafeFileHandle handle = Volatile.Read(ref _handle) ?? Open();
            try
            {
                int total = 0;
                while (total < destination.Length)
                {
                    int n = RandomAccess.Read(handle, destination[total..], offset + total);
                    if (n == 0)
                    {
                        throw new ChunkVanishedException(this);
                    }

                    total += n;
                }

                if (_files is null || _files.Limit == 0)
                {
                    handle.Dispose();
                }

                return;
            }
            catch (ObjectDisposedException)
            {
                // Closed by the open-file limit or an eviction while this read was starting: open it again.
                Interlocked.CompareExchange(ref _handle, null, handle);
            }
        }
    }

    /// <summary>Closes the kept handle, if any (reads under way finish first: the handle is reference counted).</summary>
    public void CloseHandle() => Interlocked.Exchange(ref _handle, null)?.Dispose();

    private SafeFileHandle Open()
    {
        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(Path!, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ChunkVanishedException(this);
        }

        if (_files is null || _files.Limit == 0)
        {
            return handle;
        }

        SafeFileHandle? existing = Interlocked.CompareExchange(ref _handle, handle, null);
        if (existing is not null)
        {
            handle.Dispose();
            return existing;
        }

        _files.Opened(this);
        return handle;
    }
}

/// <summary>Keeps at most a number of chunk files open, closing the longest-open first.</summary>
internal sealed class OpenChunkFiles(int limit)
{
    private readonly ConcurrentQueue<CachedChunk> _open = new();
    private int _count;

    public int Limit { get; } = limit;

    public void Opened(CachedChunk chunk)
    {
        _open.Enqueue(chunk);
        if (Interlocked.Increment(ref _count) > Limit && _open.TryDequeue(out CachedChunk? oldest))
        {
            Interlocked.Decrement(ref _count);
            oldest.CloseHandle();
        }
    }
}

/// <summary>A ready chunk's file disappeared or shrank under the reader; the chunk must be fetched again.</summary>
public sealed class ChunkVanishedException(CachedChunk chunk) : IOException($"The cached file of chunk {chunk.Digest} is gone.")
{
    /// <summary>The chunk whose file is gone; pass it to <see cref="ChunkCache.Invalidate"/> and fetch it again.</summary>
    public CachedChunk Chunk { get; } = chunk;
}
