using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace Accelerator.Block.Prefetch;

/// <summary>
/// A virtual disk that records which blocks are read through it, in first-read order, and passes every call to the
/// disk inside. Serve a block image through it during a container start, then store <see cref="Blocks"/> as the
/// image's prefetch trace (<c>accel convert --format block --prefetch-list FILE</c>, or
/// <see cref="Format.BlockIndex.WithPrefetch"/>); the next open replays it in the background.
/// </summary>
/// <remarks>
/// The trace file: UTF-8 text, one block address (decimal, in blocks of the image's block size) per line; lines
/// starting with <c>#</c> are comments. Thread-safe.
/// </remarks>
public sealed class BlockTraceRecorder : IVirtualDisk
{
    /// <summary>The most blocks a trace file may list.</summary>
    public const int MaxTraceBlocks = 1 << 24;

    private readonly IVirtualDisk _inner;
    private readonly int _traceBlockSize;
    private readonly ConcurrentDictionary<long, byte> _seen = new();
    private readonly List<long> _order = [];
    private readonly bool _ownsInner;

    /// <summary>Wraps <paramref name="inner"/>, recording reads in blocks of <paramref name="traceBlockSize"/> (the image's block size).</summary>
    public BlockTraceRecorder(IVirtualDisk inner, int traceBlockSize, bool ownsInner = false)
    {
        ArgumentNullException.ThrowIfNull(inner);
        Format.BlockFormat.ValidateBlockSize(traceBlockSize, nameof(traceBlockSize));
        _inner = inner;
        _traceBlockSize = traceBlockSize;
        _ownsInner = ownsInner;
    }

    /// <summary>The blocks read so far, in first-read order.</summary>
    public IReadOnlyList<long> Blocks
    {
        get
        {
            lock (_order)
            {
                return [.. _order];
            }
        }
    }

    /// <inheritdoc />
    public long Size => _inner.Size;

    /// <inheritdoc />
    public bool IsReadOnly => _inner.IsReadOnly;

    /// <inheritdoc />
    public int BlockSize => _inner.BlockSize;

    /// <inheritdoc />
    public ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        if (offset >= 0 && destination.Length > 0 && offset <= Size - destination.Length)
        {
            for (long block = offset / _traceBlockSize; block <= (offset + destination.Length - 1) / _traceBlockSize; block++)
            {
                if (_seen.TryAdd(block, 0))
                {
                    lock (_order)
                    {
                        _order.Add(block);
                    }
                }
            }
        }

        return _inner.ReadAsync(offset, destination, cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default) => _inner.WriteAsync(offset, source, cancellationToken);

    /// <inheritdoc />
    public ValueTask FlushAsync(CancellationToken cancellationToken = default) => _inner.FlushAsync(cancellationToken);

    /// <inheritdoc />
    public ValueTask TrimAsync(long offset, long length, CancellationToken cancellationToken = default) => _inner.TrimAsync(offset, length, cancellationToken);

    /// <inheritdoc />
    public ValueTask WriteZeroesAsync(long offset, long length, CancellationToken cancellationToken = default) => _inner.WriteZeroesAsync(offset, length, cancellationToken);

    /// <summary>Disposes the inner disk when the recorder owns it.</summary>
    public ValueTask DisposeAsync() => _ownsInner ? _inner.DisposeAsync() : default;

    /// <summary>Writes the trace file to <paramref name="path"/>, replacing it atomically.</summary>
    public void WriteToFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var text = new StringBuilder($"# Block trace: {_traceBlockSize}-byte blocks in first-read order (accel convert --format block --prefetch-list)\n");
        foreach (long block in Blocks)
        {
            text.Append(block.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }

        string full = Path.GetFullPath(path);
        string temporary = $"{full}.{Guid.NewGuid():N}.tmp";
        File.WriteAllText(temporary, text.ToString(), new UTF8Encoding(false));
        File.Move(temporary, full, overwrite: true);
    }

    /// <summary>Reads a trace file: block addresses, one per line, <c>#</c> comments and blank lines skipped.</summary>
    /// <exception cref="InvalidDataException">A line is not a block address, or the file lists too many.</exception>
    public static IReadOnlyList<long> ReadFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var info = new FileInfo(path);
        if (!info.Exists)
        {
            throw new FileNotFoundException($"The block trace {path} does not exist.");
        }

        if (info.Length > 512L << 20)
        {
            throw new InvalidDataException($"The block trace {path} is larger than 512 MiB.");
        }

        var blocks = new List<long>();
        int number = 0;
        foreach (string raw in File.ReadLines(path))
        {
            number++;
            string line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            if (!long.TryParse(line, NumberStyles.None, CultureInfo.InvariantCulture, out long block))
            {
                throw new InvalidDataException($"Line {number} of the block trace {path} is not a block address: '{(line.Length > 40 ? line[..40] : line)}'.");
            }

            if (blocks.Count == MaxTraceBlocks)
            {
                throw new InvalidDataException($"The block trace {path} lists more than {MaxTraceBlocks} blocks.");
            }

            blocks.Add(block);
        }

        return blocks;
    }
}
