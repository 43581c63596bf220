using System.Collections.Concurrent;

namespace Accelerator.Lazy.Tests.Support;

/// <summary>
/// Passes reads through to a real blob source and records every ranged request in order; an optional hook runs before
/// each ranged request (to hold it until a test is ready, or to fail it the way a broken network would).
/// </summary>
internal sealed class RecordingBlobSource(IBlobSource inner) : IBlobSource
{
    private readonly ConcurrentQueue<RangeRequest> _requests = new();

    /// <summary>Runs before each ranged request is passed on; an exception it throws is the request's.</summary>
    public Func<RangeRequest, CancellationToken, Task>? BeforeRange { get; set; }

    public IReadOnlyList<RangeRequest> Requests => [.. _requests];

    public int RangeCount => _requests.Count;

    public ValueTask<long> GetSizeAsync(BlobAddress blob, CancellationToken cancellationToken = default) => inner.GetSizeAsync(blob, cancellationToken);

    public Task<Stream> OpenReadAsync(BlobAddress blob, CancellationToken cancellationToken = default) => inner.OpenReadAsync(blob, cancellationToken);

    public async Task<Stream> OpenRangeAsync(BlobAddress blob, long offset, long length, CancellationToken cancellationToken = default)
    {
        var request = new RangeRequest(blob.Digest, offset, length);
        _requests.Enqueue(request);
        if (BeforeRange is { } hook)
        {
            await hook(request, cancellationToken);
        }

        return await inner.OpenRangeAsync(blob, offset, length, cancellationToken);
    }
}

internal readonly record struct RangeRequest(Digest Blob, long Offset, long Length)
{
    public long End => Offset + Length;

    /// <summary>Whether the request covers the chunk's stored bytes.</summary>
    public bool Covers(Digest blob, long offset, int storedSize) => Blob == blob && Offset <= offset && offset + storedSize <= End;
}
