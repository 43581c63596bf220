using System.Buffers;
using System.Threading.Channels;
using Accelerator.Chunks.Format;
using Accelerator.Lazy.Format;
using Microsoft.Win32.SafeHandles;

namespace Accelerator.Lazy.Conversion;

/// <summary>
/// The converter's chunks: deduplicated by sha256 (within the image, and against a chunk dictionary), compressed by a
/// few workers in parallel and spooled, in whatever order they finish, to one temporary file. The spool's order does
/// not matter: the packer later copies the chunks the final tree uses into data blobs in path order, so the output
/// is the same however many workers ran.
/// </summary>
internal sealed class ChunkStore : IAsyncDisposable
{
    private readonly Dictionary<ChunkKey, int> _byKey = [];
    private readonly List<ChunkRecord> _chunks = [];
    private readonly Channel<Job> _jobs;
    private readonly Task[] _workers;
    private readonly CancellationTokenSource _stop = new();
    private readonly SafeFileHandle _spool;
    private readonly IReadOnlyDictionary<ChunkKey, int>? _dictionary;
    private long _spoolLength;
    private bool _completed;

    public ChunkStore(string directory, int chunkSize, int workers, IReadOnlyDictionary<ChunkKey, int>? dictionary)
    {
        ChunkSize = chunkSize;
        _dictionary = dictionary;
        _spool = File.OpenHandle(
            Path.Combine(directory, "chunks.spool"), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, FileOptions.DeleteOnClose);
        _jobs = Channel.CreateBounded<Job>(new BoundedChannelOptions(workers * 2) { SingleWriter = true });
        _workers = [.. Enumerable.Range(0, workers).Select(_ => Task.Run(() => CompressAsync(_stop.Token)))];
    }

    public int ChunkSize { get; }

    /// <summary>Distinct chunks so far.</summary>
    public int Count => _byKey.Count;

    /// <summary>References that found their chunk already there (same bytes earlier in the image).</summary>
    public long DuplicateReferences { get; private set; }

    /// <summary>Distinct chunks found in the chunk dictionary (not stored again).</summary>
    public int DictionaryChunks { get; private set; }

    /// <summary>
    /// Adds a chunk, taking ownership of <paramref name="buffer"/> (rented from <see cref="ArrayPool{T}.Shared"/>),
    /// and returns its id. Called by one producer at a time.
    /// </summary>
    public async ValueTask<int> AddAsync(byte[] buffer, int length, CancellationToken cancellationToken)
    {
        ChunkKey key = ChunkKey.Compute(buffer.AsSpan(0, length));
        if (_byKey.TryGetValue(key, out int id))
        {
            ArrayPool<byte>.Shared.Return(buffer);
            DuplicateReferences++;
            return id;
        }

        int dictionaryIndex = _dictionary is not null && _dictionary.TryGetValue(key, out int found) ? found : -1;
        lock (_chunks)
        {
            id = _chunks.Count;
            _chunks.Add(new ChunkRecord(key, length, dictionaryIndex, -1, 0));
        }

        _byKey.Add(key, id);
        if (dictionaryIndex >= 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            DictionaryChunks++;
            return id;
        }

        try
        {
            await _jobs.Writer.WriteAsync(new Job(id, buffer, length), cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException ex) when (ex.InnerException is { } inner)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw new IOException($"Compressing chunks failed: {inner.Message}", inner);
        }

        return id;
    }

    /// <summary>Waits until every chunk added so far is compressed and spooled.</summary>
    public async Task CompleteAsync()
    {
        if (!_completed)
        {
            _completed = true;
            _jobs.Writer.TryComplete();
            await Task.WhenAll(_workers).ConfigureAwait(false);
        }
    }

    /// <summary>A chunk's record (after <see cref="CompleteAsync"/>).</summary>
    public ChunkRecord this[int id]
    {
        get
        {
            lock (_chunks)
            {
                return _chunks[id];
            }
        }
    }

    /// <summary>Reads a spooled chunk's stored bytes.</summary>
    public void ReadStored(ChunkRecord chunk, Span<byte> destination)
    {
        int read = RandomAccess.Read(_spool, destination[..chunk.StoredSize], chunk.SpoolOffset);
        if (read != chunk.StoredSize)
        {
            throw new IOException("The chunk spool is shorter than expected.");
        }
    }

    private async Task CompressAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var compressor = ChunkCodec.CreateCompressor();
            byte[] output = new byte[ChunkSize];
            await foreach (Job job in _jobs.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                try
                {
                    int stored = ChunkCodec.Encode(compressor, job.Buffer.AsSpan(0, job.Length), output);
                    long offset = Interlocked.Add(ref _spoolLength, stored) - stored;
                    RandomAccess.Write(_spool, output.AsSpan(0, stored), offset);
                    lock (_chunks)
                    {
                        _chunks[job.Id] = _chunks[job.Id] with { SpoolOffset = offset, StoredSize = stored };
                    }
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(job.Buffer);
                }
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Stop the producer: its next write fails with this error.
            _jobs.Writer.TryComplete(ex);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _jobs.Writer.TryComplete();
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await Task.WhenAll(_workers).ConfigureAwait(false);
        }
        catch
        {
            // Already reported by CompleteAsync or AddAsync, or cancelled here.
        }

        while (_jobs.Reader.TryRead(out Job job))
        {
            ArrayPool<byte>.Shared.Return(job.Buffer);
        }

        _spool.Dispose();
        _stop.Dispose();
    }

    private readonly record struct Job(int Id, byte[] Buffer, int Length);
}

/// <summary>One distinct chunk of the converter: its digest, size, and where its bytes are.</summary>
/// <param name="Key">The sha256 of the uncompressed bytes.</param>
/// <param name="Size">The uncompressed size.</param>
/// <param name="DictionaryIndex">The chunk's index in the chunk dictionary's bootstrap, or -1 when it is new.</param>
/// <param name="SpoolOffset">Where the stored bytes are in the spool (new chunks).</param>
/// <param name="StoredSize">The stored size (new chunks).</param>
internal readonly record struct ChunkRecord(ChunkKey Key, int Size, int DictionaryIndex, long SpoolOffset, int StoredSize);
