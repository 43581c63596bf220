using System.Collections.Concurrent;

namespace Accelerator.Testing;

/// <summary>
/// A blob source that keeps blobs in memory, for unit tests. It behaves as every <see cref="IBlobSource"/> must
/// (verified whole reads, ranged reads, <see cref="BlobNotFoundException"/> for missing blobs) and counts what it
/// served. The repository of a <see cref="BlobAddress"/> is ignored.
/// </summary>
public sealed class InMemoryBlobSource : IBlobSource, IBlobExistence
{
    private readonly ConcurrentDictionary<Digest, byte[]> _blobs = new();
    private long _wholeReads;
    private long _rangeReads;
    private long _bytesServed;

    /// <summary>The digests held.</summary>
    public IReadOnlyCollection<Digest> Digests => _blobs.Keys.ToList();

    /// <summary>Whole-blob reads opened so far.</summary>
    public long WholeReads => Interlocked.Read(ref _wholeReads);

    /// <summary>Ranged reads opened so far.</summary>
    public long RangeReads => Interlocked.Read(ref _rangeReads);

    /// <summary>Bytes handed out by whole and ranged reads (as opened, not as consumed).</summary>
    public long BytesServed => Interlocked.Read(ref _bytesServed);

    /// <summary>Adds a blob under its sha256 digest and returns its descriptor.</summary>
    public Descriptor Add(ReadOnlySpan<byte> content, string mediaType = "application/octet-stream")
    {
        var descriptor = Descriptor.FromContent(mediaType, content);
        _blobs[descriptor.Digest] = content.ToArray();
        return descriptor;
    }

    /// <summary>
    /// Stores <paramref name="content"/> under <paramref name="digest"/> without checking that it matches: a way to
    /// simulate a corrupted source.
    /// </summary>
    public void AddUnverified(Digest digest, ReadOnlySpan<byte> content)
    {
        if (digest.IsEmpty)
        {
            throw new ArgumentException("The digest is empty.", nameof(digest));
        }

        _blobs[digest] = content.ToArray();
    }

    /// <summary>Removes a blob; returns whether it was held.</summary>
    public bool Remove(Digest digest) => _blobs.TryRemove(digest, out _);

    /// <inheritdoc />
    public ValueTask<long> GetSizeAsync(BlobAddress blob, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult((long)Get(blob).Length);
    }

    /// <inheritdoc />
    public Task<Stream> OpenReadAsync(BlobAddress blob, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        byte[] content = Get(blob);
        Interlocked.Increment(ref _wholeReads);
        Interlocked.Add(ref _bytesServed, content.Length);
        var stream = new MemoryStream(content, writable: false);
        return Task.FromResult<Stream>(new VerifyingStream(stream, blob.Digest, blob.Size, "memory"));
    }

    /// <inheritdoc />
    public Task<Stream> OpenRangeAsync(BlobAddress blob, long offset, long length, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        cancellationToken.ThrowIfCancellationRequested();
        byte[] content = Get(blob);
        int start = (int)Math.Min(offset, content.Length);
        int count = (int)Math.Min(length, content.Length - start);
        Interlocked.Increment(ref _rangeReads);
        Interlocked.Add(ref _bytesServed, count);
        return Task.FromResult<Stream>(new MemoryStream(content, start, count, writable: false));
    }

    /// <inheritdoc />
    public ValueTask<bool> ExistsAsync(BlobAddress blob, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(_blobs.TryGetValue(blob.Digest, out byte[]? content) && (!blob.HasSize || content.Length == blob.Size));
    }

    private byte[] Get(BlobAddress blob)
        => _blobs.TryGetValue(blob.Digest, out byte[]? content) ? content : throw new BlobNotFoundException($"blob {blob.Digest}", "memory");
}
