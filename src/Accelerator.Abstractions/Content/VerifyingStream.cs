using System.Security.Cryptography;

namespace Accelerator;

/// <summary>
/// A read-only stream over content expected to have a given digest and size. It never yields more than the expected
/// size, and at end of stream it checks the hash: a mismatch throws <see cref="DigestMismatchException"/> from the read
/// that reaches the end, so a consumer that commits its result only after reading to the end never commits bad bytes.
/// </summary>
public sealed class VerifyingStream : ReadOnlyStream
{
    private readonly Stream _inner;
    private readonly IncrementalHash _hash;
    private readonly Digest _expected;
    private readonly long _expectedSize;
    private readonly bool _leaveOpen;
    private readonly string? _source;
    private long _read;
    private bool _verified;

    /// <summary>Wraps <paramref name="inner"/>; <paramref name="expectedSize"/> may be -1 when unknown.</summary>
    public VerifyingStream(Stream inner, Digest expected, long expectedSize, string? source = null, bool leaveOpen = false)
    {
        _inner = inner;
        _expected = expected;
        _expectedSize = expectedSize;
        _hash = expected.CreateHasher();
        _leaveOpen = leaveOpen;
        _source = source;
    }

    /// <summary>Bytes read so far.</summary>
    public long BytesRead => _read;

    /// <inheritdoc />
    public override long Length => _expectedSize >= 0 ? _expectedSize : throw new NotSupportedException();

    /// <inheritdoc />
    public override long Position { get => _read; set => throw new NotSupportedException(); }

    /// <inheritdoc />
    public override int Read(Span<byte> buffer)
    {
        if (buffer.IsEmpty)
        {
            return 0;
        }

        int n = _inner.Read(Limit(buffer));
        return Account(buffer[..n]);
    }

    /// <inheritdoc />
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty)
        {
            return 0;
        }

        int n = await _inner.ReadAsync(Limit(buffer), cancellationToken).ConfigureAwait(false);
        return Account(buffer.Span[..n]);
    }

    private Span<byte> Limit(Span<byte> buffer) => buffer[..LimitLength(buffer.Length)];

    private Memory<byte> Limit(Memory<byte> buffer) => buffer[..LimitLength(buffer.Length)];

    private int LimitLength(int length)
    {
        if (_expectedSize < 0)
        {
            return length;
        }

        // Ask for one byte past the expected end so that overlong content is detected rather than silently cut.
        long remaining = _expectedSize - _read + 1;
        return (int)Math.Min(length, Math.Max(remaining, 0));
    }

    private int Account(ReadOnlySpan<byte> data)
    {
        int n = data.Length;
        if (n == 0)
        {
            if (!_verified)
            {
                Verify();
            }

            return 0;
        }

        _read += n;
        if (_expectedSize >= 0 && _read > _expectedSize)
        {
            throw new DigestMismatchException(_expected, $"more than the expected {_expectedSize} bytes", _source);
        }

        _hash.AppendData(data);
        return n;
    }

    private void Verify()
    {
        _verified = true;
        if (_expectedSize >= 0 && _read != _expectedSize)
        {
            throw new DigestMismatchException(_expected, $"{_read} bytes where {_expectedSize} were expected", _source);
        }

        var actual = Digest.FromHash(_expected.Algorithm, _hash.GetHashAndReset());
        if (actual != _expected)
        {
            throw new DigestMismatchException(_expected, actual.ToString(), _source);
        }
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _hash.Dispose();
            if (!_leaveOpen)
            {
                _inner.Dispose();
            }
        }

        base.Dispose(disposing);
    }

    /// <inheritdoc />
    public override async ValueTask DisposeAsync()
    {
        _hash.Dispose();
        if (!_leaveOpen)
        {
            await _inner.DisposeAsync().ConfigureAwait(false);
        }

        await base.DisposeAsync().ConfigureAwait(false);
    }
}
