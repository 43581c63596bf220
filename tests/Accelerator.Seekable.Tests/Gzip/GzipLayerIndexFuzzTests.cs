using System.IO.Compression;
using System.Text;
using Accelerator.Seekable.Gzip;
using Accelerator.Testing.Fuzzing;
using Accelerator.Testing.Tar;

namespace Accelerator.Seekable.Tests.Gzip;

/// <summary>
/// Random and mutated index blobs and bodies: <see cref="GzipLayerIndex.Read"/> gives a valid index or
/// <see cref="InvalidDataException"/>, nothing else; whatever it accepts re-encodes to itself and decodes its units from
/// the real blob without any other exception.
/// </summary>
public sealed class GzipLayerIndexFuzzTests
{
    [Fact]
    public async Task Read_RandomAndMutatedBlobs_ValidIndexOrInvalidData()
    {
        var (layer, blob, index) = await SampleAsync(gzip: true);
        byte[] seed = index.ToBytes();
        var random = new Random(16);
        for (int i = 0; i < 2000; i++)
        {
            byte[] input = (i % 4) switch
            {
                0 => FuzzInput.RandomBytes(random, 300),
                1 => [.. seed[..12], .. FuzzInput.RandomBytes(random, 300)],
                _ => FuzzInput.Mutate(seed, random),
            };
            if (ReadOrInvalid(() => GzipLayerIndex.Read(input, layer)) is { } accepted)
            {
                CheckUsable(accepted, blob);
            }
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ReadBody_MutatedBodies_ValidIndexOrInvalidData(bool gzip)
    {
        var (layer, blob, index) = await SampleAsync(gzip);
        byte[] seed = index.EncodeBody();
        var random = new Random(gzip ? 17 : 18);
        int accepted = 0;
        for (int i = 0; i < 3000; i++)
        {
            byte[] body = FuzzInput.Mutate(seed, random);
            if (ReadOrInvalid(() => GzipLayerIndex.ReadBody(body, layer)) is { } read)
            {
                accepted++;
                CheckUsable(read, blob);
            }
        }

        // Mutations of names, attributes and digests are valid indexes: the fuzzer did reach past the header.
        Assert.True(accepted > 0);
    }

    private static void CheckUsable(GzipLayerIndex index, byte[] blob)
    {
        byte[] body = index.EncodeBody();
        Assert.Equal(body, GzipLayerIndex.ReadBody(body, index.Layer).EncodeBody());
        for (int unit = 0; unit < index.Units.Count; unit++)
        {
            SeekableUnit u = index.Units[unit];
            try
            {
                index.Decode(unit, blob.AsSpan((int)u.CompressedOffset, u.CompressedLength), new byte[u.DataLength]);
            }
            catch (InvalidDataException)
            {
                // A lying checkpoint or window: the decoder says so (a reader also checks the digest).
            }
        }
    }

    private static GzipLayerIndex? ReadOrInvalid(Func<GzipLayerIndex> read)
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

    // A small layer with every kind of entry, pax records, long names and attributes, and a few spans.
    private static async Task<(Descriptor Layer, byte[] Blob, GzipLayerIndex Index)> SampleAsync(bool gzip)
    {
        var random = new Random(5);
        var tar = new TarBuilder()
            .AddDirectory("etc/")
            .AddFile("etc/hostname", "sample\n")
            .AddFile("usr/lib/" + new string('l', 150) + ".so", Noise(random, 90_000), xattrs: new Dictionary<string, byte[]> { ["security.capability"] = [1, 0, 0, 2, 32, 0, 0, 0] }, nanoseconds: 123)
            .AddSymlink("usr/bin/sh", "dash")
            .AddHardLink("usr/bin/sh2", "etc/hostname")
            .AddCharacterDevice("dev/null", 1, 3)
            .AddFifo("run/fifo")
            .AddWhiteout("var/old")
            .AddOpaque("opt")
            .AddFile("data/big", Noise(random, 200_000));
        byte[] blob = gzip ? Gzip(tar.ToArray()) : tar.ToArray();
        var layer = Descriptor.FromContent(gzip ? GzipTestLayers.GzipMediaType : "application/vnd.oci.image.layer.v1.tar", blob);
        GzipLayerIndex index = await GzipIndexBuilder.BuildAsync(new MemoryStream(blob), layer, new GzipIndexOptions { SpanSize = GzipIndexOptions.MinSpanSize });
        Assert.True(index.Units.Count >= 3);
        return (layer, blob, index);
    }

    // Level 6 (not TarBuilder's fastest): deflate blocks small enough for several spans.
    private static byte[] Gzip(byte[] data)
    {
        var compressed = new MemoryStream();
        using (var gzip = new GZipStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(data);
        }

        return compressed.ToArray();
    }

    // Text-like bytes: compressible enough to give deflate blocks with back references across spans.
    private static byte[] Noise(Random random, int length)
    {
        var text = new StringBuilder(length);
        while (text.Length < length)
        {
            text.Append(random.Next(100_000)).Append(random.Next(3) == 0 ? '\n' : ' ');
        }

        return Encoding.ASCII.GetBytes(text.ToString(0, length));
    }
}
