using Accelerator.Seekable.Reading;

using System.Collections.Concurrent;
using Accelerator.Testing;

namespace Accelerator.Seekable.Tests.Reading;

/// <summary>
/// An in-memory blob source that records every ranged request, can hold requests until released (to make readers
/// meet on one fetch) and can hang them forever (a registry that stops answering).
/// </summary>
internal sealed class RecordingBlobSource : IBlobSource
{
    private readonly InMemoryBlobSource _blobs = new();
    private TaskCompletionSource? _gate;

    public ConcurrentQueue<(long Offset, long Length)> Ranges { get; } = new();

    public bool Hang { get; set; }

    public TaskCompletionSource RequestStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Descriptor Add(byte[] blob) => _blobs.Add(blob);

    /// <summary>Replaces a blob's bytes under its digest (a registry serving changed bytes).</summary>
    public void Replace(Digest digest, byte[] content) => _blobs.AddUnverified(digest, content);

    /// <summary>Holds every request from now on until <see cref="Release"/>.</summary>
    public void HoldRequests() => _gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Release() => _gate?.TrySetResult();

    public ValueTask<long> GetSizeAsync(BlobAddress blob, CancellationToken cancellationToken = default) => _blobs.GetSizeAsync(blob, cancellationToken);

    public Task<Stream> OpenReadAsync(BlobAddress blob, CancellationToken cancellationToken = default) => _blobs.OpenReadAsync(blob, cancellationToken);

    public async Task<Stream> OpenRangeAsync(BlobAddress blob, long offset, long length, CancellationToken cancellationToken = default)
    {
        Ranges.Enqueue((offset, length));
        RequestStarted.TrySetResult();
        if (Hang)
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, cancellationToken);
        }

        if (_gate is { } gate)
        {
            await gate.Task.WaitAsync(cancellationToken);
        }

        return await _blobs.OpenRangeAsync(blob, offset, length, cancellationToken);
    }
}

/// <summary>Counts what a reader reports.</summary>
internal sealed class CountingObserver : ISeekableReadObserver
{
    private long _read;
    private long _fetchedBytes;
    private int _fetchedUnits;
    private int _hits;
    private int _failed;

    public long BytesRead => Interlocked.Read(ref _read);

    public long FetchedBytes => Interlocked.Read(ref _fetchedBytes);

    public int FetchedUnits => Volatile.Read(ref _fetchedUnits);

    public int CacheHits => Volatile.Read(ref _hits);

    public int VerificationFailures => Volatile.Read(ref _failed);

    public ConcurrentQueue<string> Sources { get; } = new();

    public void Read(ulong inode, long offset, int bytes) => Interlocked.Add(ref _read, bytes);

    public void Fetched(string source, long compressedBytes, int units)
    {
        Sources.Enqueue(source);
        Interlocked.Add(ref _fetchedBytes, compressedBytes);
        Interlocked.Add(ref _fetchedUnits, units);
    }

    public void CacheHit(int units) => Interlocked.Add(ref _hits, units);

    public void VerificationFailed(SeekableUnit unit, string layer) => Interlocked.Increment(ref _failed);
}
