using Accelerator.Chunks.Caching;
using Accelerator.Seekable.Gzip;
using Accelerator.Seekable.Reading;
using Accelerator.Seekable.Tests.Gzip;
using Accelerator.Testing.Tar;

namespace Accelerator.Seekable.Tests.Reading;

/// <summary>
/// A gzip-indexed layer whose blob has one random byte changed at the source: every file reads either its exact bytes
/// or fails — never wrong bytes, and a failed unit is never cached.
/// </summary>
public sealed class SeekableReaderFuzzTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("accel-seekable-fuzz-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task ReadAsync_OneByteChangedAnywhere_ExactBytesOrAnError()
    {
        // Text-like content: compressible, so the deflate stream has many blocks (checkpoints) and several spans.
        var files = Enumerable.Range(0, 12).Select(i => ($"dir/file{i}", Text(i * 23_000 + 1, seed: 100 + i))).ToList();
        var tar = new TarBuilder().AddDirectory("dir");
        foreach (var (path, content) in files)
        {
            tar.AddFile(path, content);
        }

        // Compressed by gzip(1): .NET's fastest level writes few, huge deflate blocks, hence few checkpoints.
        string tarPath = Path.Combine(_directory, "layer.tar");
        await File.WriteAllBytesAsync(tarPath, tar.ToArray());
        await GzipTestLayers.ShellAsync($"gzip -6 -n -c '{tarPath}' > '{tarPath}.gz'");
        byte[] blob = await File.ReadAllBytesAsync(tarPath + ".gz");
        var layer = Descriptor.FromContent("application/vnd.oci.image.layer.v1.tar+gzip", blob);
        var index = await GzipIndexBuilder.BuildAsync(new MemoryStream(blob), layer, new GzipIndexOptions { SpanSize = GzipIndexOptions.MinSpanSize });
        Assert.True(index.Units.Count > 3, $"{index.Units.Count} units");
        var forest = new SeekableForest([index]);
        var random = new Random(1616);
        int failures = 0;
        for (int round = 0; round < 24; round++)
        {
            byte[] changed = (byte[])blob.Clone();
            changed[random.Next(changed.Length)] ^= (byte)random.Next(1, 256);
            var source = new RecordingBlobSource();
            source.Add(blob);
            source.Replace(layer.Digest, changed);
            using var cache = ChunkCache.Open(new ChunkCacheOptions { Directory = Path.Combine(_directory, $"cache-{round}") });
            var reader = new SeekableContentReader(forest, [(source, new BlobAddress("fuzz", layer.Digest, layer.Size))], cache, new SeekableReaderOptions());
            foreach (var (path, content) in files)
            {
                ulong inode = forest.FindPath(0, path)!.Value;
                byte[] read = new byte[content.Length];
                try
                {
                    for (int done = 0; done < read.Length;)
                    {
                        done += await reader.ReadAsync(inode, done, read.AsMemory(done), CancellationToken.None);
                    }
                }
                catch (Exception ex) when (ex is InvalidDataException or IOException)
                {
                    failures++;
                    continue;
                }

                Assert.Equal(content, read);
            }

            foreach (var unit in index.Units)
            {
                if (cache.Contains(unit.Digest))
                {
                    Assert.Equal(unit.Digest, Digest.Compute(File.ReadAllBytes(cache.GetChunkPath(unit.Digest))));
                }
            }
        }

        Assert.True(failures > 0);
    }

    private static byte[] Text(int length, int seed)
    {
        const string Alphabet = "abcdefghij klmno\n";
        var random = new Random(seed);
        byte[] text = new byte[length];
        for (int i = 0; i < length; i++)
        {
            text[i] = (byte)Alphabet[random.Next(Alphabet.Length)];
        }

        return text;
    }
}
