using System.Runtime.InteropServices;

namespace Accelerator.Linux;

/// <summary>
/// The zlib (<c>libz.so.1</c>) entry points Accelerator uses: the inflate side only, declared once. Use them through
/// <see cref="ZlibInflater"/>, which owns the stream state.
/// </summary>
/// <remarks>
/// The <c>z_stream</c> layout (zlib.h) is the same on x86-64 and arm64 Linux (LP64: pointers and <c>uLong</c> are 8
/// bytes, <c>uInt</c> and <c>int</c> 4): <see cref="ZStream"/> mirrors it, 112 bytes, and <c>inflateInit2_</c> is told
/// that size so that a library built with another layout refuses the stream instead of corrupting it.
/// </remarks>
internal static unsafe partial class Zlib
{
    private const string Library = "libz.so.1";

    // zlib.h, "constants".
    public const int Z_NO_FLUSH = 0;
    public const int Z_BLOCK = 5;
    public const int Z_OK = 0;
    public const int Z_STREAM_END = 1;
    public const int Z_NEED_DICT = 2;
    public const int Z_ERRNO = -1;
    public const int Z_STREAM_ERROR = -2;
    public const int Z_DATA_ERROR = -3;
    public const int Z_MEM_ERROR = -4;
    public const int Z_BUF_ERROR = -5;
    public const int Z_VERSION_ERROR = -6;

    /// <summary><c>struct z_stream_s</c> for LP64 (zlib.h).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct ZStream
    {
        public byte* NextIn;
        public uint AvailIn;
        public nuint TotalIn;
        public byte* NextOut;
        public uint AvailOut;
        public nuint TotalOut;
        public byte* Message;
        public void* State;
        public void* Allocate;
        public void* Free;
        public void* Opaque;
        public int DataType;
        public nuint Adler;
        public nuint Reserved;
    }

    [LibraryImport(Library, EntryPoint = "zlibVersion")]
    public static partial byte* Version();

    [LibraryImport(Library, EntryPoint = "inflateInit2_")]
    public static partial int InflateInit2(ZStream* stream, int windowBits, byte* version, int streamSize);

    [LibraryImport(Library, EntryPoint = "inflate")]
    public static partial int Inflate(ZStream* stream, int flush);

    [LibraryImport(Library, EntryPoint = "inflateEnd")]
    public static partial int InflateEnd(ZStream* stream);

    [LibraryImport(Library, EntryPoint = "inflateReset2")]
    public static partial int InflateReset2(ZStream* stream, int windowBits);

    [LibraryImport(Library, EntryPoint = "inflatePrime")]
    public static partial int InflatePrime(ZStream* stream, int bits, int value);

    [LibraryImport(Library, EntryPoint = "inflateSetDictionary")]
    public static partial int InflateSetDictionary(ZStream* stream, byte* dictionary, uint length);

    [LibraryImport(Library, EntryPoint = "inflateGetDictionary")]
    public static partial int InflateGetDictionary(ZStream* stream, byte* dictionary, uint* length);
}
