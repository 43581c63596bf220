using System.Diagnostics;
using System.IO.Compression;
using Accelerator.Oci.Layers;
using Accelerator.Oci.Model;
using Accelerator.Testing.Tar;

namespace Accelerator.Oci.Tests.Layers;

public sealed class LayerStreamsTests
{
    private static byte[] Gzip(byte[] data)
    {
        var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            gzip.Write(data);
        }

        return output.ToArray();
    }

    // 1 GiB of zeros inside one tar entry, compressed to about a megabyte: the first gzip member holds the header
    // and a mebibyte of zeros, then the same compressed mebibyte of zeros is repeated as further members.
    private static byte[] GzipBomb()
    {
        const long size = 1L << 30;
        byte[] header = new TarBuilder().Add(new TarBuilderEntry { Path = "bomb" }).ToArrayWithoutEnd();
        // Patch the size field (octal, 11 digits and NUL) and the checksum of the ustar header the builder wrote.
        System.Text.Encoding.ASCII.GetBytes(Convert.ToString(size, 8).PadLeft(11, '0')).CopyTo(header, 124);
        header.AsSpan(148, 8).Fill((byte)' ');
        int sum = header.Take(512).Sum(b => b);
        System.Text.Encoding.ASCII.GetBytes(Convert.ToString(sum, 8).PadLeft(6, '0') + "\0 ").CopyTo(header, 148);

        byte[] zeros = Gzip(new byte[1 << 20]);
        var output = new MemoryStream();
        output.Write(Gzip(header));
        for (int i = 0; i < 1024; i++)
        {
            output.Write(zeros);
        }

        return output.ToArray();
    }

    [Fact]
    public async Task ApplyAsync_DecompressionBomb_ThrowsContentTooLargeQuickly()
    {
        byte[] bomb = GzipBomb();
        Assert.True(bomb.Length < 4 << 20);
        using var dir = new LayerTestDirectory();
        var watch = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<ContentTooLargeException>(() =>
            LayerApplier.ApplyAsync(new MemoryStream(bomb), LayerCompression.Gzip, dir.Root, new LayerApplyOptions { MaxUncompressedBytes = 64L << 20 }));
        Assert.Contains("MaxUncompressedBytes", e.Message);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"took {watch.Elapsed}");
        Assert.True(new FileInfo(dir.InRoot("bomb")).Length <= 64L << 20);
    }

    [Fact]
    public void OpenDecompressed_MultiMemberGzip_ReadsAllMembers()
    {
        byte[] blob = [.. Gzip("first "u8.ToArray()), .. Gzip("second"u8.ToArray())];
        using Stream stream = LayerStreams.OpenDecompressed(new MemoryStream(blob), null);
        Assert.Equal("first second", new StreamReader(stream).ReadToEnd());
    }

    [Fact]
    public void OpenDecompressed_MultiFrameZstd_ReadsAllFrames()
    {
        using var compressor = new ZstdSharp.Compressor();
        byte[] blob = [.. compressor.Wrap("one "u8), .. compressor.Wrap("two"u8)];
        using Stream stream = LayerStreams.OpenDecompressed(new MemoryStream(blob), null);
        Assert.Equal("one two", new StreamReader(stream).ReadToEnd());
    }

    [Fact]
    public void OpenDecompressed_ExactlyAtLimit_Succeeds()
    {
        using Stream stream = LayerStreams.OpenDecompressed(new MemoryStream(new byte[1000]), LayerCompression.None, 1000);
        stream.CopyTo(Stream.Null);
        using Stream over = LayerStreams.OpenDecompressed(new MemoryStream(new byte[1001]), LayerCompression.None, 1000);
        Assert.Throws<ContentTooLargeException>(() => over.CopyTo(Stream.Null));
    }

    [Fact]
    public void OpenDecompressed_LeaveOpen_DoesNotDisposeBlob()
    {
        var blob = new MemoryStream(Gzip([1, 2, 3]));
        LayerStreams.OpenDecompressed(blob, LayerCompression.Gzip, leaveOpen: true).Dispose();
        Assert.True(blob.CanRead);
        LayerStreams.OpenDecompressed(blob, LayerCompression.Gzip).Dispose();
        Assert.False(blob.CanRead);
    }

    [Theory]
    [InlineData(new byte[] { 0x1F, 0x8B, 8, 0 }, LayerCompression.Gzip)]
    [InlineData(new byte[] { 0x28, 0xB5, 0x2F, 0xFD }, LayerCompression.Zstd)]
    [InlineData(new byte[] { (byte)'a', (byte)'b' }, LayerCompression.None)]
    [InlineData(new byte[0], LayerCompression.None)]
    public void Detect_MagicBytes_RecognisesCompression(byte[] start, LayerCompression expected) =>
        Assert.Equal(expected, LayerStreams.Detect(start));
}
