using System.Formats.Tar;
using System.IO.Compression;
using System.Text;

namespace Accelerator.Benchmarks;

/// <summary>Deterministic inputs for the benchmarks: layer tars and file contents, built in memory.</summary>
internal static class BenchmarkData
{
    private static readonly byte[][] Words = [.. "container image layer registry mount chunk digest manifest blob peer lazy block snapshot cache mirror index"
        .Split(' ').Select(w => Encoding.ASCII.GetBytes(w + " "))];

    /// <summary>A PAX tar of <paramref name="files"/> regular files of <paramref name="fileSize"/> bytes each, in a few directories.</summary>
    public static byte[] Tar(int files, int fileSize, int seed = 1)
    {
        var random = new Random(seed);
        using var archive = new MemoryStream();
        using (var writer = new TarWriter(archive, TarEntryFormat.Pax, leaveOpen: true))
        {
            var time = new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);
            for (int d = 0; d < Math.Min(files, 16); d++)
            {
                writer.WriteEntry(new PaxTarEntry(TarEntryType.Directory, $"data/d{d:D2}/") { ModificationTime = time, Mode = (UnixFileMode)Convert.ToInt32("755", 8) });
            }

            for (int i = 0; i < files; i++)
            {
                byte[] content = Content(random, fileSize, compressible: i % 2 == 0);
                writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, $"data/d{i % 16:D2}/file{i:D6}.{(i % 2 == 0 ? "txt" : "bin")}")
                {
                    ModificationTime = time,
                    Mode = (UnixFileMode)Convert.ToInt32("644", 8),
                    DataStream = new MemoryStream(content),
                });
            }
        }

        return archive.ToArray();
    }

    /// <summary><paramref name="size"/> bytes: words and newlines (compressible), or random bytes.</summary>
    public static byte[] Content(Random random, int size, bool compressible)
    {
        byte[] content = new byte[size];
        if (!compressible)
        {
            random.NextBytes(content);
            return content;
        }

        int at = 0;
        while (at < size)
        {
            byte[] word = Words[random.Next(Words.Length)];
            int n = Math.Min(word.Length, size - at);
            word.AsSpan(0, n).CopyTo(content.AsSpan(at));
            at += n;
        }

        return content;
    }

    public static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(data);
        }

        return output.ToArray();
    }

    public static byte[] Zstd(byte[] data, int level = 3)
    {
        using var compressor = new ZstdSharp.Compressor(level);
        return compressor.Wrap(data).ToArray();
    }
}
