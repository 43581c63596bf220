using System.Security.Cryptography;

namespace Accelerator;

/// <summary>
/// A write-only pass-through that hashes and counts what it forwards to an inner stream, so a writer learns the
/// digest and size of what it wrote (a tar it streams out, a compressed layer) without reading it back. The inner
/// stream is left open; the caller owns the hash and reads it with <see cref="IncrementalHash.GetHashAndReset()"/>.
/// </summary>
public sealed class HashingWriteStream : Stream
{
    private readonly Stream _inner;
    private readonly IncrementalHash _hash;

    /// <summary>Forwards writes to <paramref name="inner"/>, appending each to <paramref name="hash"/> first.</summary>
    public HashingWriteStream(Stream inner, IncrementalHash hash)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentNullException.ThrowIfNull(hash);
        _inner = inner;
        _hash = hash;
    }

    /// <summary>The bytes written so far.</summary>
    public long Written { get; private set; }

    /// <inheritdoc />
    public override bool CanRead => false;

    /// <inheritdoc />
    public override bool CanSeek => false;

    /// <inheritdoc />
    public override bool CanWrite => true;

    /// <summary>The bytes written so far (as <see cref="Written"/>).</summary>
    public override long Length => Written;

    /// <summary>The bytes written so far; cannot be set.</summary>
    public override long Position { get => Written; set => throw new NotSupportedException(); }

    /// <inheritdoc />
    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    /// <inheritdoc />
    public override void Write(ReadOnlySpan<byte> buffer)
    {
        _hash.AppendData(buffer);
        Written += buffer.Length;
        _inner.Write(buffer);
    }

    /// <inheritdoc />
    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        _hash.AppendData(buffer.Span);
        Written += buffer.Length;
        await _inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <inheritdoc />
    public override void Flush() => _inner.Flush();

    /// <inheritdoc />
    public override Task FlushAsync(CancellationToken cancellationToken) => _inner.FlushAsync(cancellationToken);

    /// <summary>Not supported: the stream is write-only.</summary>
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    /// <summary>Not supported.</summary>
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    /// <summary>Not supported.</summary>
    public override void SetLength(long value) => throw new NotSupportedException();
}
