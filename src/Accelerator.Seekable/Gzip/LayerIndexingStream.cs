using System.Buffers;
using System.Security.Cryptography;
using Accelerator.Linux;
using ZstdSharp;

namespace Accelerator.Seekable.Gzip;

/// <summary>
/// The uncompressed tar stream of a layer blob, produced in one forward pass that also does the indexing work: it
/// hashes the blob (the layer digest), inflates a gzip blob with <see cref="ZlibFlush.Block"/> and records a checkpoint
/// (position, bits, window) at the first block boundary or member start at least a span after the previous one, and
/// hashes every span. An uncompressed blob passes through, cut into spans of exactly the span size.
/// </summary>
/// <remarks>Holds one input and one output buffer (and, when a unit callback is given, the current span).</remarks>
internal sealed class LayerIndexingStream : ReadOnlyStream
{
    private const int BufferSize = 256 << 10;

    // Windows are compressed once at build time and read at every decode. Measured on the 84 MB corpus layer: level 3
    // gives a 4% bigger index than 9, level 19 a 4% smaller one for 2.5 times the CPU of the whole build.
    private const int WindowCompressionLevel = 9;

    private readonly Stream _blob;
    private readonly Descriptor _layer;
    private readonly int _spanSize;
    private readonly long _maxUncompressed;
    private readonly Func<SeekableUnit, ReadOnlyMemory<byte>, ValueTask>? _onUnit;
    private readonly IncrementalHash _blobHash;
    private readonly IncrementalHash _spanHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly byte[] _input = ArrayPool<byte>.Shared.Rent(BufferSize);
    private readonly byte[] _output = ArrayPool<byte>.Shared.Rent(BufferSize);
    private readonly List<GzipCheckpoint> _checkpoints = [];
    private readonly List<Digest> _digests = [];
    private ZlibInflater? _inflater;
    private Compressor? _windowCompressor;
    private byte[]? _windowBuffer;
    private ArrayBufferWriter<byte>? _spanBytes;

    // A closed span waits here until a byte after it is produced (or the blob ends): only then is its blob range final.
    private ArrayBufferWriter<byte>? _pendingBytes;
    private SeekableUnit? _pendingUnit;
    private int _inStart, _inEnd, _outStart, _outEnd;
    private long _blobRead, _consumed, _produced, _spanStart;
    private bool _blobEnded, _memberEnded, _finished, _disposed;

    public LayerIndexingStream(Stream blob, Descriptor layer, int spanSize, long maxUncompressed, Func<SeekableUnit, ReadOnlyMemory<byte>, ValueTask>? onUnit)
    {
        _blob = blob;
        _layer = layer;
        _spanSize = spanSize;
        _maxUncompressed = maxUncompressed;
        _onUnit = onUnit;
        _blobHash = Digest.CreateHasher(layer.Digest.Algorithm);
        if (onUnit is not null)
        {
            // Grown as spans need (a small layer fetched whole must not cost two full spans).
            _spanBytes = new ArrayBufferWriter<byte>(BufferSize);
            _pendingBytes = new ArrayBufferWriter<byte>(BufferSize);
        }
    }

    /// <summary>Whether the blob is gzip (known after <see cref="StartAsync"/>).</summary>
    public bool IsGzip => _inflater is not null;

    /// <summary>Reads the first bytes and chooses gzip (magic 1f 8b, RFC 1952 2.3.1) or uncompressed tar.</summary>
    /// <exception cref="NotSupportedException">The blob is zstd (magic 28 b5 2f fd, RFC 8878 3.1.1).</exception>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        while (_inEnd < 4 && !_blobEnded)
        {
            await ReadBlobAsync(cancellationToken).ConfigureAwait(false);
        }

        ReadOnlySpan<byte> head = _input.AsSpan(0, _inEnd);
        if (head.StartsWith((ReadOnlySpan<byte>)[0x28, 0xB5, 0x2F, 0xFD]))
        {
            throw new NotSupportedException($"Layer {_layer.Digest} is zstd-compressed: only gzip and uncompressed tar layers can be indexed.");
        }

        if (head.StartsWith((ReadOnlySpan<byte>)[0x1F, 0x8B]))
        {
            _inflater = new ZlibInflater(ZlibFormat.Gzip);
            _windowCompressor = new Compressor(WindowCompressionLevel);
            _windowBuffer = new byte[ZlibInflater.WindowSize];
            _checkpoints.Add(new GzipCheckpoint(0, 0, 0, null));
        }
    }

    /// <inheritdoc />
    public override int Read(Span<byte> buffer) => throw new NotSupportedException("The indexing stream is read asynchronously.");

    /// <inheritdoc />
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (_outStart == _outEnd)
        {
            if (_finished)
            {
                return 0;
            }

            await FillAsync(cancellationToken).ConfigureAwait(false);
        }

        int count = Math.Min(buffer.Length, _outEnd - _outStart);
        _output.AsSpan(_outStart, count).CopyTo(buffer.Span);
        _outStart += count;
        return count;
    }

    /// <summary>Reads what the tar reader left (end-of-archive padding, trailing members) to the end of the blob.</summary>
    public async Task DrainAsync(CancellationToken cancellationToken)
    {
        while (!_finished)
        {
            _outStart = _outEnd;
            await FillAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// After a failure: hashes the rest of the blob and throws <see cref="DigestMismatchException"/> when it is not the
    /// layer (a corrupt blob is a mismatch, whatever broke first); returns when the blob is the layer.
    /// </summary>
    public async Task VerifyAfterFailureAsync(CancellationToken cancellationToken)
    {
        while (!_blobEnded)
        {
            _inStart = _inEnd;
            await ReadBlobAsync(cancellationToken).ConfigureAwait(false);
        }

        Verify();
    }

    /// <summary>Throws <see cref="DigestMismatchException"/> unless the whole blob was read and is the layer.</summary>
    public void Verify()
    {
        if (!_blobEnded || _blobRead != _layer.Size)
        {
            throw new DigestMismatchException(_layer.Digest, $"{_blobRead} bytes, not {_layer.Size}", "the layer blob");
        }

        Digest actual = Digest.FromHash(_layer.Digest.Algorithm, _blobHash.GetHashAndReset());
        if (actual != _layer.Digest)
        {
            throw new DigestMismatchException(_layer.Digest, actual.Value, "the layer blob");
        }
    }

    /// <summary>The index of the layer (after <see cref="DrainAsync"/> and <see cref="Verify"/>).</summary>
    public GzipLayerIndex CreateIndex(IReadOnlyList<SeekableEntry> entries) =>
        new(_layer, IsGzip, _spanSize, _produced, entries, IsGzip ? [.. _checkpoints] : null, [.. _digests]);

    private async Task FillAsync(CancellationToken cancellationToken)
    {
        _outStart = _outEnd = 0;
        if (_inflater is null)
        {
            await FillUncompressedAsync(cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await FillInflatedAsync(_inflater, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task FillUncompressedAsync(CancellationToken cancellationToken)
    {
        if (_inStart == _inEnd)
        {
            await ReadBlobAsync(cancellationToken).ConfigureAwait(false);
            if (_inStart == _inEnd)
            {
                await FinishAsync().ConfigureAwait(false);
                return;
            }
        }

        int count = (int)Math.Min(_inEnd - _inStart, _spanSize - (_produced - _spanStart));
        _input.AsSpan(_inStart, count).CopyTo(_output);
        _inStart += count;
        _outEnd = count;
        await EmitPendingAsync().ConfigureAwait(false);
        Record(_output.AsSpan(0, count));
        if (_produced - _spanStart == _spanSize)
        {
            Cut(new GzipCheckpoint(_produced, 0, _produced, null));
        }
    }

    private async Task FillInflatedAsync(ZlibInflater inflater, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (_inStart == _inEnd && !_blobEnded)
            {
                await ReadBlobAsync(cancellationToken).ConfigureAwait(false);
            }

            if (_memberEnded)
            {
                if (_inStart == _inEnd)
                {
                    if (_blobEnded)
                    {
                        await FinishAsync().ConfigureAwait(false);
                        return;
                    }

                    continue;
                }

                // Another gzip member (RFC 1952 2.2: members are simply concatenated): a checkpoint needing no window.
                if (_produced - _spanStart >= _spanSize)
                {
                    Cut(new GzipCheckpoint(_consumed, 0, _produced, null));
                }

                inflater.Reset(ZlibFormat.Gzip);
                _memberEnded = false;
            }

            ZlibInflateResult result = inflater.Inflate(_input.AsSpan(_inStart, _inEnd - _inStart), _output, ZlibFlush.Block);
            _inStart += result.Consumed;
            _consumed += result.Consumed;
            _outEnd = result.Produced;
            if (result.Produced > 0)
            {
                await EmitPendingAsync().ConfigureAwait(false);
                Record(_output.AsSpan(0, result.Produced));
            }

            switch (result.Status)
            {
                case ZlibStatus.StreamEnd:
                    _memberEnded = true;
                    break;
                case ZlibStatus.NeedsMore when _inStart == _inEnd && _blobEnded:
                    throw new InvalidDataException($"Layer {_layer.Digest} ends inside a gzip member.");
                case ZlibStatus.Ok when inflater.AtBlockBoundary && !inflater.InLastBlock && _produced - _spanStart >= _spanSize:
                    // zran: a boundary after a block that is not the last one; the window is what the next block may refer to.
                    int length = inflater.GetDictionary(_windowBuffer);
                    byte[] window = _windowCompressor!.Wrap(_windowBuffer.AsSpan(0, length)).ToArray();
                    Cut(new GzipCheckpoint(_consumed, inflater.UnusedBits, _produced, window));
                    break;
            }

            if (result.Produced > 0)
            {
                return;
            }
        }
    }

    private async Task ReadBlobAsync(CancellationToken cancellationToken)
    {
        if (_inStart == _inEnd)
        {
            _inStart = _inEnd = 0;
        }

        int read = await _blob.ReadAsync(_input.AsMemory(_inEnd, BufferSize - _inEnd), cancellationToken).ConfigureAwait(false);
        if (read == 0)
        {
            _blobEnded = true;
            return;
        }

        _blobHash.AppendData(_input, _inEnd, read);
        _inEnd += read;
        _blobRead += read;
        if (_blobRead > _layer.Size)
        {
            throw new DigestMismatchException(_layer.Digest, $"more than {_layer.Size} bytes", "the layer blob");
        }
    }

    private void Record(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }

        _produced += data.Length;
        if (_produced > _maxUncompressed)
        {
            throw new ContentTooLargeException($"Layer {_layer.Digest} decompresses to more than {_maxUncompressed} bytes, the configured limit.");
        }

        if (_produced - _spanStart > SeekableLayerIndex.MaxUnitBytes)
        {
            throw new NotSupportedException($"Layer {_layer.Digest} has a deflate block decoding to more than {SeekableLayerIndex.MaxUnitBytes} bytes: no checkpoint can be placed inside it, so it cannot be indexed.");
        }

        _spanHash.AppendData(data);
        _spanBytes?.Write(data);
    }

    // Closes the current span at `next` (or at the end of the blob when null).
    private void Cut(GzipCheckpoint? next)
    {
        if (_digests.Count >= GzipLayerIndex.MaxUnits)
        {
            throw new ContentTooLargeException($"Layer {_layer.Digest} would have more than {GzipLayerIndex.MaxUnits} spans; use a larger span size.");
        }

        var digest = Digest.FromHash(Digest.Sha256, _spanHash.GetHashAndReset());
        _digests.Add(digest);
        if (_onUnit is not null)
        {
            long first = IsGzip ? _checkpoints[^1].FirstByte : _spanStart;
            long end = next is null ? _blobRead : IsGzip ? next.ByteOffset : next.DataOffset;
            _pendingUnit = new SeekableUnit(first, (int)(end - first), _spanStart, (int)(_produced - _spanStart), digest);
            (_pendingBytes, _spanBytes) = (_spanBytes, _pendingBytes);
        }

        if (next is not null)
        {
            if (IsGzip)
            {
                _checkpoints.Add(next);
            }

            _spanStart = next.DataOffset;
        }
    }

    private async Task FinishAsync()
    {
        if (_produced > _spanStart)
        {
            Cut(null);
        }
        else if (IsGzip && _checkpoints.Count > 1)
        {
            // The stream ended right at the last checkpoint (an empty final block or member): the previous span
            // reaches the end of the blob instead.
            _checkpoints.RemoveAt(_checkpoints.Count - 1);
            if (_pendingUnit is { } last)
            {
                _pendingUnit = last with { CompressedLength = (int)(_blobRead - last.CompressedOffset) };
            }
        }
        else if (IsGzip && _produced == 0)
        {
            _checkpoints.Clear();
        }

        await EmitPendingAsync().ConfigureAwait(false);
        _finished = true;
    }

    private async ValueTask EmitPendingAsync()
    {
        if (_pendingUnit is { } unit)
        {
            _pendingUnit = null;
            await _onUnit!(unit, _pendingBytes!.WrittenMemory).ConfigureAwait(false);
            _pendingBytes.ResetWrittenCount();
        }
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing && !_disposed)
        {
            _disposed = true;
            _inflater?.Dispose();
            _windowCompressor?.Dispose();
            _blobHash.Dispose();
            _spanHash.Dispose();
            ArrayPool<byte>.Shared.Return(_input);
            ArrayPool<byte>.Shared.Return(_output);
        }

        base.Dispose(disposing);
    }
}
