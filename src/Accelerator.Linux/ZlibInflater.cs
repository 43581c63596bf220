using System.Runtime.InteropServices;

namespace Accelerator.Linux;

/// <summary>What a <see cref="ZlibInflater"/> decodes.</summary>
public enum ZlibFormat
{
    /// <summary>A raw deflate stream (RFC 1951), zlib window bits -15.</summary>
    RawDeflate,

    /// <summary>One gzip member (RFC 1952): header, deflate data, CRC-32 and size checked by zlib; window bits 31.</summary>
    Gzip,
}

/// <summary>How far one <see cref="ZlibInflater.Inflate"/> call goes.</summary>
public enum ZlibFlush
{
    /// <summary><c>Z_NO_FLUSH</c>: as far as input and output allow.</summary>
    None = Zlib.Z_NO_FLUSH,

    /// <summary><c>Z_BLOCK</c>: also stop at the next deflate block boundary (and after a gzip header).</summary>
    Block = Zlib.Z_BLOCK,
}

/// <summary>How an <see cref="ZlibInflater.Inflate"/> call ended.</summary>
public enum ZlibStatus
{
    /// <summary>Progress was made (or a block boundary reached); more input or output room may follow.</summary>
    Ok,

    /// <summary>The end of the deflate stream (or of the gzip member, trailer checked) was reached.</summary>
    StreamEnd,

    /// <summary>No progress was possible: the input is used up or the output is full (<c>Z_BUF_ERROR</c>, not an error).</summary>
    NeedsMore,
}

/// <summary>The outcome of one <see cref="ZlibInflater.Inflate"/> call.</summary>
/// <param name="Consumed">Input bytes used.</param>
/// <param name="Produced">Output bytes written.</param>
/// <param name="Status">How the call ended.</param>
/// <param name="DataType">zlib's <c>data_type</c> after the call (see <see cref="ZlibInflater.AtBlockBoundary"/>).</param>
public readonly record struct ZlibInflateResult(int Consumed, int Produced, ZlibStatus Status, int DataType);

/// <summary>
/// One zlib inflate stream (raw deflate or gzip) with the controls an index of a deflate stream needs: stopping at
/// block boundaries (<see cref="ZlibFlush.Block"/>), reading the sliding window (<see cref="GetDictionary"/>), and
/// resuming mid-stream from a saved window and bit position (<see cref="Prime"/>, <see cref="SetDictionary"/>).
/// Not thread-safe: one user at a time.
/// </summary>
/// <remarks>
/// zlib keeps a pointer back to its <c>z_stream</c>, so the stream lives in native memory (it must never move) and is
/// owned by a <see cref="SafeHandle"/> that ends it (<c>inflateEnd</c>) and frees it exactly once. Input and output
/// are pinned only for the duration of a call: zlib holds no pointer into them between calls.
/// </remarks>
public sealed unsafe class ZlibInflater : IDisposable
{
    /// <summary>The size of the deflate window: 32 KiB (RFC 1951, 2.2).</summary>
    public const int WindowSize = 32 * 1024;

    private readonly ZStreamHandle _handle;

    /// <summary>Starts an inflate stream.</summary>
    /// <param name="format">What the input is.</param>
    /// <exception cref="InvalidOperationException">zlib refused to start (incompatible library).</exception>
    public ZlibInflater(ZlibFormat format)
    {
        _handle = ZStreamHandle.Create(WindowBits(format));
        Format = format;
    }

    /// <summary>What the stream decodes (changed by <see cref="Reset"/>).</summary>
    public ZlibFormat Format { get; private set; }

    /// <summary>Input bytes consumed since the stream started or was last reset.</summary>
    public long TotalIn => (long)Stream->TotalIn;

    /// <summary>Output bytes produced since the stream started or was last reset.</summary>
    public long TotalOut => (long)Stream->TotalOut;

    /// <summary>zlib's <c>data_type</c>: unused bits of the last input byte (low 3 bits), +64 in the last block, +128 at a block boundary.</summary>
    public int DataType => Stream->DataType;

    /// <summary>Whether the last <see cref="ZlibFlush.Block"/> call stopped at a block boundary (or right after a gzip header).</summary>
    public bool AtBlockBoundary => (DataType & 128) != 0;

    /// <summary>Whether the stream is in (or just past) the final block of the deflate stream.</summary>
    public bool InLastBlock => (DataType & 64) != 0;

    /// <summary>How many bits of the last consumed input byte are not yet used (0–7).</summary>
    public int UnusedBits => DataType & 7;

    private Zlib.ZStream* Stream
    {
        get
        {
            ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
            return (Zlib.ZStream*)_handle.DangerousGetHandle();
        }
    }

    /// <summary>Inflates from <paramref name="input"/> into <paramref name="output"/>.</summary>
    /// <exception cref="InvalidDataException">The input is not valid deflate (or gzip) data; zlib's message says why.</exception>
    public ZlibInflateResult Inflate(ReadOnlySpan<byte> input, Span<byte> output, ZlibFlush flush = ZlibFlush.None)
    {
        Zlib.ZStream* stream = Stream;
        int code;
        uint availIn, availOut;
        byte none = 0;
        fixed (byte* inputPointer = input)
        fixed (byte* outputPointer = output)
        {
            stream->NextIn = inputPointer;
            stream->AvailIn = (uint)input.Length;

            // zlib refuses a null next_out even with no room (Z_STREAM_ERROR); an empty span pins to null.
            stream->NextOut = outputPointer is null ? &none : outputPointer;
            stream->AvailOut = (uint)output.Length;
            code = Zlib.Inflate(stream, (int)flush);
            availIn = stream->AvailIn;
            availOut = stream->AvailOut;
            stream->NextIn = null;
            stream->NextOut = null;
            stream->AvailIn = 0;
            stream->AvailOut = 0;
        }

        var status = code switch
        {
            Zlib.Z_OK => ZlibStatus.Ok,
            Zlib.Z_STREAM_END => ZlibStatus.StreamEnd,
            Zlib.Z_BUF_ERROR => ZlibStatus.NeedsMore,
            _ => throw Failure("inflate", code),
        };
        return new ZlibInflateResult(input.Length - (int)availIn, output.Length - (int)availOut, status, stream->DataType);
    }

    /// <summary>Restarts the stream for new input of <paramref name="format"/> (<c>inflateReset2</c>), keeping its memory.</summary>
    public void Reset(ZlibFormat format)
    {
        Check("inflateReset2", Zlib.InflateReset2(Stream, WindowBits(format)));
        Format = format;
    }

    /// <summary>
    /// Inserts <paramref name="bits"/> bits (0–16) of <paramref name="value"/> into the input ahead of the next byte
    /// (<c>inflatePrime</c>): how decoding resumes at a block boundary that falls inside a byte.
    /// </summary>
    public void Prime(int bits, int value)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bits);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(bits, 16);
        Check("inflatePrime", Zlib.InflatePrime(Stream, bits, value));
    }

    /// <summary>Sets the sliding window (up to 32 KiB of the output that preceded this point) of a raw stream.</summary>
    public void SetDictionary(ReadOnlySpan<byte> dictionary)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(dictionary.Length, WindowSize, nameof(dictionary));
        fixed (byte* pointer = dictionary)
        {
            Check("inflateSetDictionary", Zlib.InflateSetDictionary(Stream, pointer, (uint)dictionary.Length));
        }
    }

    /// <summary>Copies the sliding window (the last up to 32 KiB of output) into <paramref name="destination"/>.</summary>
    /// <returns>The number of bytes copied.</returns>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than <see cref="WindowSize"/>.</exception>
    public int GetDictionary(Span<byte> destination)
    {
        if (destination.Length < WindowSize)
        {
            throw new ArgumentException($"The window needs {WindowSize} bytes of room.", nameof(destination));
        }

        uint length = 0;
        fixed (byte* pointer = destination)
        {
            Check("inflateGetDictionary", Zlib.InflateGetDictionary(Stream, pointer, &length));
        }

        return (int)length;
    }

    /// <inheritdoc />
    public void Dispose() => _handle.Dispose();

    private static int WindowBits(ZlibFormat format) => format switch
    {
        ZlibFormat.RawDeflate => -15,
        ZlibFormat.Gzip => 15 + 16,
        _ => throw new ArgumentOutOfRangeException(nameof(format)),
    };

    private void Check(string call, int code)
    {
        if (code != Zlib.Z_OK)
        {
            throw Failure(call, code);
        }
    }

    private Exception Failure(string call, int code)
    {
        byte* message = ((Zlib.ZStream*)_handle.DangerousGetHandle())->Message;
        string detail = message is null ? $"zlib error {code}" : Marshal.PtrToStringUTF8((nint)message) ?? $"zlib error {code}";
        return code switch
        {
            Zlib.Z_DATA_ERROR or Zlib.Z_NEED_DICT => new InvalidDataException($"Invalid compressed data ({call}): {detail}."),
            Zlib.Z_MEM_ERROR => new OutOfMemoryException($"zlib {call} ran out of memory."),
            _ => new InvalidOperationException($"zlib {call} failed: {detail}."),
        };
    }

    private sealed class ZStreamHandle : SafeHandle
    {
        private ZStreamHandle()
            : base(IntPtr.Zero, ownsHandle: true)
        {
        }

        public override bool IsInvalid => handle == IntPtr.Zero;

        public static ZStreamHandle Create(int windowBits)
        {
            var result = new ZStreamHandle();
            var stream = (Zlib.ZStream*)NativeMemory.AllocZeroed((nuint)sizeof(Zlib.ZStream));
            int code = Zlib.InflateInit2(stream, windowBits, Zlib.Version(), sizeof(Zlib.ZStream));
            if (code != Zlib.Z_OK)
            {
                NativeMemory.Free(stream);
                throw new InvalidOperationException($"zlib inflateInit2_ failed with {code} (library version or z_stream layout mismatch).");
            }

            result.SetHandle((nint)stream);
            return result;
        }

        protected override bool ReleaseHandle()
        {
            var stream = (Zlib.ZStream*)handle;
            Zlib.InflateEnd(stream);
            NativeMemory.Free(stream);
            return true;
        }
    }
}
