using System.Diagnostics;
using Accelerator.Oci.Layers;
using Accelerator.Testing.Tar;

namespace Accelerator.Oci.Tests.Layers;

/// <summary>Random and mutated archives: the reader must end cleanly or with a documented exception, quickly.</summary>
public sealed class LayerTarReaderFuzzTests
{
    private static byte[][] Seeds() =>
    [
        new TarBuilder().AddDirectory("d").AddFile("d/f", "content").AddSymlink("l", "d/f").AddHardLink("h", "d/f").ToArray(),
        new TarBuilder().AddFile(new string('x', 200), "long"u8.ToArray(), xattrs: new Dictionary<string, byte[]> { ["user.a"] = [0, 1] }).ToArray(),
        new TarBuilder(gnuFormat: true).AddFile(new string('y', 200), "gnu").AddSparseFile("s", 100_000, [(10, "ab"u8.ToArray()), (50_000, "cd"u8.ToArray())], TarSparseFormat.GnuOld).ToArray(),
        new TarBuilder().AddSparseFile("s0", 5000, [(1, "x"u8.ToArray())], TarSparseFormat.Pax00).AddSparseFile("s1", 5000, [(1, "x"u8.ToArray())], TarSparseFormat.Pax01).ToArray(),
        new TarBuilder().AddSparseFile("s10", 9000, [(100, "abc"u8.ToArray()), (8000, "z"u8.ToArray())], TarSparseFormat.Pax10).AddCharacterDevice("c", 1, 3).AddFifo("p").ToArray(),
        new TarBuilder().AddGlobalPax([new("mtime", "123.5"u8.ToArray())]).AddWhiteout("w").AddOpaque("o").ToArray(),
    ];

    private static async Task ReadAllAsync(byte[] archive)
    {
        try
        {
            await using var reader = new LayerTarReader(new MemoryStream(archive), new LayerTarReaderOptions { MaxEntries = 1000 });
            while (await reader.ReadNextAsync() is { } entry)
            {
                // A mutated sparse size may announce terabytes of holes; a bounded read still walks every code path.
                Stream content = entry.OpenContent();
                byte[] buffer = new byte[64 * 1024];
                for (int total = 0; total < 1 << 20;)
                {
                    int read = await content.ReadAsync(buffer);
                    if (read == 0)
                    {
                        break;
                    }

                    total += read;
                }
            }
        }
        catch (Exception e) when (e is InvalidDataException or ContentTooLargeException)
        {
        }
    }

    [Fact]
    public async Task ReadNextAsync_MutatedArchives_OnlyDocumentedExceptions()
    {
        var random = new Random(20261128);
        var watch = Stopwatch.StartNew();
        foreach (byte[] seed in Seeds())
        {
            for (int i = 0; i < 400; i++)
            {
                byte[] mutated = (byte[])seed.Clone();
                int flips = random.Next(1, 8);
                for (int f = 0; f < flips; f++)
                {
                    int at = random.Next(mutated.Length);
                    mutated[at] = random.Next(4) switch
                    {
                        0 => (byte)random.Next(256),
                        1 => (byte)'7',
                        2 => 0x80,
                        _ => (byte)(mutated[at] ^ (1 << random.Next(8))),
                    };
                }

                // Mutations rarely keep a valid checksum; fix it up half the time so field parsers are reached.
                if (random.Next(2) == 0)
                {
                    FixChecksums(mutated);
                }

                if (random.Next(4) == 0)
                {
                    mutated = mutated[..random.Next(mutated.Length)];
                }

                await ReadAllAsync(mutated);
            }
        }

        for (int i = 0; i < 300; i++)
        {
            byte[] noise = new byte[random.Next(0, 4096)];
            random.NextBytes(noise);
            await ReadAllAsync(noise);
        }

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(60), $"fuzzing took {watch.Elapsed}");
    }

    [Fact]
    public async Task ApplyAsync_MutatedArchives_CleanErrorsAndNothingOutsideRoot()
    {
        var random = new Random(7);
        using var dir = new LayerTestDirectory();
        foreach (byte[] seed in Seeds())
        {
            for (int i = 0; i < 40; i++)
            {
                byte[] mutated = (byte[])seed.Clone();
                for (int f = random.Next(1, 5); f > 0; f--)
                {
                    mutated[random.Next(mutated.Length)] = (byte)random.Next(256);
                }

                FixChecksums(mutated);
                try
                {
                    await dir.ApplyAsync(mutated, new LayerApplyOptions { MaxUncompressedBytes = 16 << 20 });
                }
                catch (Exception e) when (e is InvalidDataException or IOException)
                {
                }
            }
        }

        dir.AssertOutsideUnchanged();
    }

    // Recomputes the checksum of every 512-byte block that looks like a header (has the ustar magic).
    private static void FixChecksums(byte[] archive)
    {
        for (int offset = 0; offset + 512 <= archive.Length; offset += 512)
        {
            Span<byte> block = archive.AsSpan(offset, 512);
            if (!block.Slice(257, 5).SequenceEqual("ustar"u8))
            {
                continue;
            }

            block.Slice(148, 8).Fill((byte)' ');
            int sum = 0;
            foreach (byte b in block)
            {
                sum += b;
            }

            System.Text.Encoding.ASCII.GetBytes(Convert.ToString(sum, 8).PadLeft(6, '0') + "\0 ").CopyTo(block[148..]);
        }
    }
}
