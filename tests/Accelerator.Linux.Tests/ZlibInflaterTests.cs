using System.Runtime.InteropServices;
using System.Text;
using Accelerator.Testing.Images;

namespace Accelerator.Linux.Tests;

/// <summary>
/// <see cref="ZlibInflater"/> over the real libz.so.1, on gzip streams made by the real <c>gzip</c>: whole streams,
/// stopping at block boundaries, and resuming at a boundary from the saved window and bit position (zran style).
/// </summary>
public sealed class ZlibInflaterTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("accel-zlib-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    [Fact]
    public void ZStream_Lp64Layout_MatchesZlibHeader()
    {
        // zlib.h struct z_stream_s on LP64 (x86-64 and arm64 Linux): 8-byte pointers and uLong, 4-byte uInt and int.
        Assert.Equal(112, Marshal.SizeOf<Zlib.ZStream>());
        Assert.Equal(8, (int)Marshal.OffsetOf<Zlib.ZStream>(nameof(Zlib.ZStream.AvailIn)));
        Assert.Equal(16, (int)Marshal.OffsetOf<Zlib.ZStream>(nameof(Zlib.ZStream.TotalIn)));
        Assert.Equal(24, (int)Marshal.OffsetOf<Zlib.ZStream>(nameof(Zlib.ZStream.NextOut)));
        Assert.Equal(48, (int)Marshal.OffsetOf<Zlib.ZStream>(nameof(Zlib.ZStream.Message)));
        Assert.Equal(88, (int)Marshal.OffsetOf<Zlib.ZStream>(nameof(Zlib.ZStream.DataType)));
        Assert.Equal(96, (int)Marshal.OffsetOf<Zlib.ZStream>(nameof(Zlib.ZStream.Adler)));
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("-9")]
    public async Task Inflate_GzipToolStream_GivesTheOriginal(string level)
    {
        byte[] original = Text(3 << 20);
        byte[] compressed = await GzipAsync(original, level);

        using var inflater = new ZlibInflater(ZlibFormat.Gzip);
        var output = new byte[original.Length + 1];
        ZlibInflateResult result = inflater.Inflate(compressed, output);

        Assert.Equal(ZlibStatus.StreamEnd, result.Status);
        Assert.Equal(compressed.Length, result.Consumed);
        Assert.Equal(original, output[..result.Produced]);
        Assert.Equal(original.Length, inflater.TotalOut);
    }

    [Fact]
    public async Task Inflate_BlockFlush_ResumesAtEveryBoundaryFromWindowAndBits()
    {
        byte[] original = Text(2 << 20);
        byte[] compressed = await GzipAsync(original, "-6");
        var boundaries = new List<(long In, int Bits, long Out, byte[] Window)>();
        using (var inflater = new ZlibInflater(ZlibFormat.Gzip))
        {
            var output = new byte[original.Length];
            int consumed = 0, produced = 0;
            while (true)
            {
                ZlibInflateResult result = inflater.Inflate(compressed.AsSpan(consumed), output.AsSpan(produced), ZlibFlush.Block);
                consumed += result.Consumed;
                produced += result.Produced;
                if (result.Status == ZlibStatus.StreamEnd)
                {
                    break;
                }

                if (inflater.AtBlockBoundary && !inflater.InLastBlock && produced > 0)
                {
                    var window = new byte[ZlibInflater.WindowSize];
                    int length = inflater.GetDictionary(window);
                    Assert.Equal(Math.Min(produced, ZlibInflater.WindowSize), length);
                    Assert.Equal(original.AsSpan(produced - length, length), window.AsSpan(0, length));
                    boundaries.Add((inflater.TotalIn, inflater.UnusedBits, produced, window[..length]));
                }
            }

            Assert.Equal(original, output);
        }

        Assert.True(boundaries.Count >= 5, $"only {boundaries.Count} block boundaries");
        Assert.Contains(boundaries, b => b.Bits != 0);
        foreach (var (bytesIn, bits, bytesOut, window) in boundaries)
        {
            using var resumed = new ZlibInflater(ZlibFormat.RawDeflate);
            ReadOnlySpan<byte> input = compressed.AsSpan((int)bytesIn);
            if (bits != 0)
            {
                resumed.Prime(bits, compressed[bytesIn - 1] >> (8 - bits));
            }

            resumed.SetDictionary(window);
            var rest = new byte[original.Length - bytesOut];
            ZlibInflateResult result = resumed.Inflate(input, rest);
            Assert.Equal(ZlibStatus.StreamEnd, result.Status);
            Assert.Equal(rest.Length, result.Produced);
            Assert.Equal(original[(int)bytesOut..], rest);
            Assert.Equal(8, input.Length - result.Consumed); // the gzip trailer is left
        }
    }

    [Fact]
    public async Task Inflate_CorruptStream_InvalidDataException()
    {
        byte[] compressed = await GzipAsync(Text(64 << 10), "-6");
        compressed[compressed.Length / 2] ^= 0xFF;
        compressed[(compressed.Length / 2) + 1] ^= 0x5A;

        using var inflater = new ZlibInflater(ZlibFormat.Gzip);
        var output = new byte[1 << 20];
        Assert.Throws<InvalidDataException>(() => inflater.Inflate(compressed, output));
    }

    [Fact]
    public void Inflate_NotGzip_InvalidDataExceptionNamingTheHeader()
    {
        using var inflater = new ZlibInflater(ZlibFormat.Gzip);
        var error = Assert.Throws<InvalidDataException>(() => inflater.Inflate("not a gzip stream"u8, new byte[64]));
        Assert.Contains("header", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Inflate_NoInputLeft_NeedsMore()
    {
        using var inflater = new ZlibInflater(ZlibFormat.RawDeflate);
        Assert.Equal(ZlibStatus.NeedsMore, inflater.Inflate([], new byte[16]).Status);
    }

    [Fact]
    public void GetDictionary_ShortBuffer_ArgumentException()
    {
        using var inflater = new ZlibInflater(ZlibFormat.RawDeflate);
        Assert.Throws<ArgumentException>(() => inflater.GetDictionary(new byte[100]));
    }

    [Fact]
    public void Inflate_AfterDispose_ObjectDisposedException()
    {
        var inflater = new ZlibInflater(ZlibFormat.Gzip);
        inflater.Dispose();
        inflater.Dispose();
        Assert.Throws<ObjectDisposedException>(() => inflater.Inflate([1, 2], new byte[4]));
    }

    private async Task<byte[]> GzipAsync(byte[] data, string level)
    {
        string input = Path.Combine(_work, $"data{level}");
        await File.WriteAllBytesAsync(input, data);
        await ExternalTool.RunAsync("gzip", ["-k", "-f", level, input]);
        return await File.ReadAllBytesAsync(input + ".gz");
    }

    // Compressible, not trivially repetitive: words drawn from a small vocabulary with a fixed seed.
    private static byte[] Text(int length)
    {
        string[] words = ["layer", "index", "span", "window", "deflate", "block", "gzip", "tar", "checkpoint", "zlib", "\n", "0123456789"];
        var random = new Random(42);
        var text = new StringBuilder(length + 16);
        while (text.Length < length)
        {
            text.Append(words[random.Next(words.Length)]).Append(' ').Append(random.Next(1000));
        }

        return Encoding.ASCII.GetBytes(text.ToString(0, length));
    }
}
