using System.Diagnostics;
using Accelerator.Lazy.Conversion;
using Accelerator.Lazy.Format;
using Accelerator.Lazy.Tests.Support;
using Accelerator.Oci.Layout;
using Accelerator.Testing.Fuzzing;
using Accelerator.Testing.Tar;

namespace Accelerator.Lazy.Tests.Format;

/// <summary>
/// Random, truncated and mutated bootstraps: reading one either fails with <see cref="InvalidDataException"/> or gives
/// a bootstrap whose every member then works without throwing; nothing else, in bounded time and memory.
/// </summary>
public sealed class LazyBootstrapFuzzTests
{
    private const int Iterations = 4000;

    [Fact]
    public async Task ReadUncompressed_MutatedBootstraps_InvalidDataOrUsable()
    {
        var seeds = new List<byte[]> { SampleBootstraps.Encode(SampleBootstraps.Model()), await ConvertedSeedAsync() };
        var random = new Random(4242);
        int accepted = 0;
        for (int i = 0; i < Iterations; i++)
        {
            byte[] seed = seeds[i % seeds.Count];
            byte[] input = (i % 10) switch
            {
                0 => seed[..random.Next(seed.Length)],
                1 => [.. seed[..BootstrapCodec.HeaderSize], .. FuzzInput.RandomBytes(random, 256)],
                _ => FuzzInput.Mutate(seed, random),
            };
            if (TryRead(() => LazyBootstrap.ReadUncompressed(input)) is { } bootstrap)
            {
                Exercise(bootstrap);
                accepted++;
            }
        }

        // Some mutations (a changed mode, size or name byte) leave a valid bootstrap; most are caught.
        Assert.InRange(accepted, 1, Iterations / 2);
    }

    [Fact]
    public void Read_RandomAndMutatedBlobs_InvalidDataOrUsable()
    {
        byte[] blob = BootstrapCodec.Compress(SampleBootstraps.Encode(SampleBootstraps.Model()));
        var random = new Random(7);
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < Iterations; i++)
        {
            byte[] input = i % 2 == 0 ? FuzzInput.RandomBytes(random, 512) : FuzzInput.Mutate(blob, random);
            if (TryRead(() => LazyBootstrap.Read(input, maxUncompressedBytes: 1 << 20)) is { } bootstrap)
            {
                Exercise(bootstrap);
            }
        }
    }

    private static LazyBootstrap? TryRead(Func<LazyBootstrap> read)
    {
        try
        {
            return read();
        }
        catch (InvalidDataException)
        {
            return null;
        }
    }

    // Every member on every inode, as a mount would call them.
    private static void Exercise(LazyBootstrap bootstrap)
    {
        IChunkIndex index = bootstrap;
        for (ulong inode = 0; inode <= (ulong)index.InodeCount + 1; inode++)
        {
            if (index.GetEntry(inode) is { } entry)
            {
                Assert.Equal(inode, entry.Inode);
                Assert.NotNull(bootstrap.LookupPath(entry.Path));
                _ = bootstrap.GetModificationTime(inode);
            }

            foreach (var (name, child) in index.ReadDirectory(inode))
            {
                Assert.Equal(child.Inode, index.Lookup(inode, name)!.Inode);
            }

            long end = 0;
            foreach (ChunkLocation chunk in index.GetChunks(inode))
            {
                Assert.True(chunk.FileOffset >= end && chunk.CompressedSize <= chunk.UncompressedSize);
                end = chunk.FileOffset + chunk.UncompressedSize;
            }
        }

        for (int i = 0; i < bootstrap.ChunkCount; i++)
        {
            LazyChunk chunk = bootstrap.GetChunk(i);
            Assert.True(chunk.CompressedOffset + chunk.CompressedSize <= bootstrap.Blobs[chunk.BlobIndex].Size);
        }
    }

    // A converted image with more of everything than the hand-made sample: xattr sets, whiteouts, hard links.
    private static async Task<byte[]> ConvertedSeedAsync()
    {
        string work = Directory.CreateTempSubdirectory("accel-fuzz-seed-").FullName;
        try
        {
            byte[] tar = new TarBuilder()
                .AddDirectory("etc")
                .AddFile("etc/hosts", "127.0.0.1 localhost\n")
                .AddFile("etc/big", TestImages.RandomBytes(1, 70_000))
                .Add(new TarBuilderEntry { Path = "etc/x", ExtendedAttributes = new Dictionary<string, byte[]> { ["user.a"] = [1], ["user.b"] = [2, 3] } })
                .AddHardLink("etc/hosts2", "etc/hosts")
                .AddSymlink("lib", "usr/lib")
                .AddCharacterDevice("dev/null", 1, 3)
                .AddFifo("run/fifo")
                .ToArray();
            var source = await TestImages.WriteAsync(Path.Combine(work, "src"), "v1", tar);
            var result = await LazyConverter.ConvertAsync(
                OciImageLayout.Open(source.LayoutPath!), source, OciImageLayout.OpenOrCreate(Path.Combine(work, "dst")), ImageReference.Parse($"oci:{work}/dst:v1"),
                new LazyConvertOptions { ChunkSize = LazyFormat.MinChunkSize, PrefetchPaths = ["etc/hosts"] });
            return BootstrapCodec.Encode(result.Bootstrap.Model);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }
}
