using System.Security.Cryptography;

namespace Accelerator.Lazy.Conversion;

/// <summary>A read-only pass-through that counts what is read and, when given a digest, hashes it to check at the end.</summary>
internal sealed class LayerReadStream(Stream inner, Digest? expected, Action<long>? progress) : Stream
{
    private readonly IncrementalHash? _hash = expected is { } digest ? digest.CreateHasher() : null;
    private long _read;

    /// <summary>Checks the bytes read against the expected digest (a no-op without one).</summary>
    /// <exception cref="DigestMismatchException">They differ.</exception>
    public void Verify(string what)
    {
        if (_hash is null || expected is not { } digest)
        {
            return;
        }

        var actual = Digest.FromHash(digest.Algorithm, _hash.GetHashAndReset());
        if (actual != digest)
        {
            throw new DigestMismatchException(digest, actual.ToString(), $"uncompressed {what} (config diff_id)");
        }
    }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => _read; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer) => Advance(buffer, inner.Read(buffer));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int n = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        return Advance(buffer.Span, n);
    }

    private int Advance(ReadOnlySpan<byte> buffer, int n)
    {
        if (n > 0)
        {
            _hash?.AppendData(buffer[..n]);
            _read += n;
            progress?.Invoke(_read);
        }

        return n;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _hash?.Dispose();
        }

        base.Dispose(disposing);
    }
}
