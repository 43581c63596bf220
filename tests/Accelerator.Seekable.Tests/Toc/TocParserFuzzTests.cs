using System.IO.Compression;
using System.Text;
using Accelerator.Oci.Layers;
using Accelerator.Seekable.Stargz;
using Accelerator.Seekable.Toc;
using Accelerator.Seekable.ZstdChunked;
using Accelerator.Testing.Fuzzing;
using Accelerator.Testing.Tar;
using ZstdSharp;

namespace Accelerator.Seekable.Tests.Toc;

/// <summary>The footer and TOC parsers of eStargz and zstd:chunked: exact results for known input, clean errors for the rest.</summary>
public sealed class TocParserFuzzTests
{
    private const int Iterations = 3000;
    private const long TocOffset = 1000;

    private static readonly string D1 = Digest.Compute("1"u8).ToString();
    private static readonly string D2 = Digest.Compute("2"u8).ToString();
    private static readonly string D3 = Digest.Compute("3"u8).ToString();
    private static readonly string D4 = Digest.Compute("4"u8).ToString();

    private static readonly string EstargzToc = $$$"""
        {"version":1,"entries":[
         {"name":".no.prefetch.landmark","type":"reg","size":1,"offset":50,"digest":"{{{D4}}}","chunkDigest":"{{{D4}}}"},
         {"name":"dir/","type":"dir","mode":16877,"modtime":"2024-01-02T03:04:05Z","uid":1000,"gid":1001,"userName":"u","groupName":"g"},
         {"name":"dir/a","type":"reg","size":10,"offset":100,"digest":"{{{D1}}}","chunkDigest":"{{{D1}}}","mode":420,"uid":1000,"gid":1001,"xattrs":{"user.x":"eA=="}},
         {"name":"dir/big","type":"reg","size":300,"offset":200,"chunkSize":100,"chunkDigest":"{{{D2}}}"},
         {"name":"dir/big","type":"chunk","offset":300,"chunkOffset":100,"chunkSize":100,"chunkDigest":"{{{D3}}}"},
         {"name":"dir/big","type":"chunk","offset":400,"chunkOffset":200,"chunkDigest":"{{{D4}}}"},
         {"name":"l","type":"symlink","linkName":"dir/a","mode":511},
         {"name":"h","type":"hardlink","linkName":"dir/a"},
         {"name":"c","type":"char","devMajor":1,"devMinor":3,"mode":438},
         {"name":"p","type":"fifo"}
        ]}
        """;

    private static readonly string ZstdToc = $$$"""
        {"version":1,"entries":[
         {"type":"dir","name":"dir/","mode":493,"modtime":"2024-01-02T03:04:05.123456789+02:00"},
         {"type":"reg","name":"dir/a","size":10,"offset":100,"endOffset":150,"digest":"{{{D1}}}","xattrs":{"security.capability":"AQAAAg=="}},
         {"type":"reg","name":"dir/big","size":300,"offset":200,"endOffset":520,"chunkSize":100,"chunkDigest":"{{{D2}}}"},
         {"type":"chunk","name":"dir/big","offset":300,"chunkOffset":100,"chunkSize":100,"chunkDigest":"{{{D3}}}"},
         {"type":"chunk","name":"dir/big","offset":400,"chunkOffset":200,"chunkSize":100,"chunkDigest":"{{{D4}}}","chunkType":"zeros"},
         {"type":"reg","name":"empty","modtime":"0001-01-01T00:00:00Z"},
         {"type":"block","name":"b","devMajor":8,"devMinor":1}
        ]}
        """;

    [Fact]
    public void EstargzRead_KnownToc_EntriesAndUnitsAsTheTocStates()
    {
        var (layer, member) = EstargzLayer(Encoding.UTF8.GetBytes(EstargzToc));
        var index = EstargzLayerIndex.Read(layer, TocOffset, member);

        Assert.Equal([".no.prefetch.landmark", "dir/", "dir/a", "dir/big", "l", "h", "c", "p", EstargzLayerIndex.TocName], index.Entries.Select(e => e.Header.Path));
        var dir = index.Entries[1].Header;
        Assert.Equal((TarEntryKind.Directory, (UnixFileMode)0x1ED, 1000L, 1001L, "u", "g"), (dir.Kind, dir.Mode, dir.Uid, dir.Gid, dir.UserName, dir.GroupName));
        Assert.Equal(new DateTimeOffset(2024, 1, 2, 3, 4, 5, TimeSpan.Zero).ToUnixTimeSeconds(), dir.ModificationTime.Seconds);
        var a = index.Entries[2];
        Assert.Equal(("u", "g", 1L), (a.Header.UserName, a.Header.GroupName, a.DataOffset));
        Assert.Equal("x"u8.ToArray(), a.Header.ExtendedAttributes["user.x"].ToArray());
        Assert.Equal(11, index.Entries[3].DataOffset);
        Assert.Equal(("dir/a", TarEntryKind.HardLink), (index.Entries[5].Header.LinkTarget, index.Entries[5].Header.Kind));
        Assert.Equal((1, 3), (index.Entries[6].Header.DeviceMajor, index.Entries[6].Header.DeviceMinor));

        // Compressed ends: the next payload offset in the blob; the last chunk ends at the TOC.
        Assert.Equal(
            [
                new SeekableUnit(50, 50, 0, 1, Digest.Parse(D4)),
                new SeekableUnit(100, 100, 1, 10, Digest.Parse(D1)),
                new SeekableUnit(200, 100, 11, 100, Digest.Parse(D2)),
                new SeekableUnit(300, 100, 111, 100, Digest.Parse(D3)),
                new SeekableUnit(400, 600, 211, 100, Digest.Parse(D4)),
                new SeekableUnit(TocOffset, member.Length, 311, Encoding.UTF8.GetByteCount(EstargzToc), index.TocDigest),
            ],
            index.Units);
    }

    [Fact]
    public void ZstdChunkedRead_KnownToc_EntriesAndUnitsAsTheTocStates()
    {
        var (layer, position, manifest) = ZstdLayer(Encoding.UTF8.GetBytes(ZstdToc));
        var index = ZstdChunkedLayerIndex.Read(layer, position, manifest);

        Assert.Equal(["dir/", "dir/a", "dir/big", "empty", "b"], index.Entries.Select(e => e.Header.Path));
        Assert.Equal(new TarTimestamp(new DateTimeOffset(2024, 1, 2, 1, 4, 5, TimeSpan.Zero).ToUnixTimeSeconds(), 123456789), index.Entries[0].Header.ModificationTime);
        Assert.Equal(new byte[] { 1, 0, 0, 2 }, index.Entries[1].Header.ExtendedAttributes["security.capability"].ToArray());
        Assert.Equal((TarEntryKind.BlockDevice, 8, 1), (index.Entries[4].Header.Kind, index.Entries[4].Header.DeviceMajor, index.Entries[4].Header.DeviceMinor));
        // A one-chunk file is verified by its digest; compressed ends: the next chunk, the last at the file's endOffset.
        Assert.Equal(
            [
                new SeekableUnit(100, 50, 0, 10, Digest.Parse(D1)),
                new SeekableUnit(200, 100, 10, 100, Digest.Parse(D2)),
                new SeekableUnit(300, 100, 110, 100, Digest.Parse(D3)),
                new SeekableUnit(400, 120, 210, 100, Digest.Parse(D4)),
            ],
            index.Units);
    }

    [Theory]
    [InlineData("""{"version":1,"entries":[{"name":"a","type":"reg","size":10,"offset":100}]}""", "chunk digest")]
    [InlineData("""{"version":1,"entries":[{"name":"a","type":"chunk","offset":100}]}""", "follows no regular file")]
    [InlineData("""{"version":1,"entries":[{"name":"a","type":"socket"}]}""", "unknown type")]
    [InlineData("""{"version":2,"entries":[]}""", "version 2")]
    [InlineData("""{"version":1,"entries":[{"name":"a","type":"reg","size":10,"offset":5000,"digest":"sha256:6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b"}]}""", "outside the payload")]
    [InlineData("""{"version":1,"entries":[{"name":"a","type":"reg","size":10,"offset":100,"chunkSize":4,"digest":"sha256:6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b"}]}""", "cover 4 of its 10 bytes")]
    [InlineData("""{"version":1,"entries":[{"name":"a","type":"dir","modtime":"yesterday"}]}""", "not RFC 3339")]
    [InlineData("""{"version":1,"entries":[null]}""", "null entry")]
    public void EstargzRead_InvalidToc_ThrowsSayingWhy(string json, string reason)
    {
        var (layer, member) = EstargzLayer(Encoding.UTF8.GetBytes(json));
        var error = Assert.Throws<InvalidDataException>(() => EstargzLayerIndex.Read(layer, TocOffset, member));
        Assert.Contains(reason, error.Message);
    }

    [Fact]
    public void EstargzRead_MutatedToc_CleanErrorOrValidIndex()
    {
        var random = new Random(1601);
        byte[] seed = Encoding.UTF8.GetBytes(EstargzToc);
        for (int i = 0; i < Iterations; i++)
        {
            byte[] json = i % 10 == 9 ? FuzzInput.RandomBytes(random, 400) : FuzzInput.Mutate(seed, random);
            var (layer, member) = EstargzLayer(json);
            if (i % 3 == 2)
            {
                // The member's own bytes mutated (gzip, tar): a digest mismatch or a broken member.
                member = FuzzInput.Mutate(member, random);
            }

            CleanErrorOrValid(() => EstargzLayerIndex.Read(layer, TocOffset, member));
        }
    }

    [Fact]
    public void ZstdChunkedRead_MutatedToc_CleanErrorOrValidIndex()
    {
        var random = new Random(1602);
        byte[] seed = Encoding.UTF8.GetBytes(ZstdToc);
        for (int i = 0; i < Iterations; i++)
        {
            byte[] json = i % 10 == 9 ? FuzzInput.RandomBytes(random, 400) : FuzzInput.Mutate(seed, random);
            var (layer, position, manifest) = ZstdLayer(json);
            if (i % 3 == 2)
            {
                manifest = FuzzInput.Mutate(manifest, random);
                layer = WithChecksum(layer, manifest);
                position = position with { Length = manifest.Length };
            }

            CleanErrorOrValid(() => ZstdChunkedLayerIndex.Read(layer, position, manifest));
        }
    }

    [Fact]
    public void Footers_MutatedAndRandom_CleanErrorOrInBounds()
    {
        var random = new Random(1603);
        byte[] estargzFooter = EstargzFooterBytes(123_456);
        Assert.Equal(123_456, EstargzFooter.ReadTocOffset(estargzFooter, 200_000));
        var (layer, position, _) = ZstdLayer(Encoding.UTF8.GetBytes(ZstdToc));
        byte[] zstdFooter = ZstdFooterBytes(position);
        Assert.Equal(position, ZstdChunkedLayerIndex.ReadFooter(zstdFooter, layer));
        Assert.Equal(position, ZstdChunkedLayerIndex.ParsePosition($"{position.Offset}:{position.Length}:{position.UncompressedLength}:1", layer));

        for (int i = 0; i < Iterations; i++)
        {
            byte[] footer = i % 5 == 4 ? FuzzInput.RandomBytes(random, 60) : FuzzInput.Mutate(estargzFooter, random);
            long size = random.Next(0, 300_000);
            try
            {
                long offset = EstargzFooter.ReadTocOffset(footer, size);
                Assert.InRange(offset, 0, size - EstargzFooter.Size - 1);
            }
            catch (InvalidDataException)
            {
            }

            byte[] zstd = i % 5 == 4 ? FuzzInput.RandomBytes(random, 48) : FuzzInput.Mutate(zstdFooter, random);
            string text = Encoding.Latin1.GetString(FuzzInput.Mutate(Encoding.UTF8.GetBytes($"{position.Offset}:{position.Length}:{position.UncompressedLength}:1"), random));
            foreach (var parse in new Func<ZstdChunkedLayerIndex.ManifestPosition>[] { () => ZstdChunkedLayerIndex.ReadFooter(zstd, layer), () => ZstdChunkedLayerIndex.ParsePosition(text, layer) })
            {
                try
                {
                    var parsed = parse();
                    Assert.InRange(parsed.Offset + parsed.Length, 8, layer.Size);
                    Assert.InRange(parsed.UncompressedLength, 1, TocLayout.MaxTocBytes);
                }
                catch (InvalidDataException)
                {
                }
            }
        }
    }

    [Fact]
    public void Decode_MutatedChunks_CleanErrorOrTheChunksLength()
    {
        var random = new Random(1604);
        var (estargzLayer, member) = EstargzLayer(Encoding.UTF8.GetBytes(EstargzToc));
        var estargz = EstargzLayerIndex.Read(estargzLayer, TocOffset, member);
        var (zstdLayer, position, manifest) = ZstdLayer(Encoding.UTF8.GetBytes(ZstdToc));
        var zstd = ZstdChunkedLayerIndex.Read(zstdLayer, position, manifest);
        byte[] content = new byte[100];
        random.NextBytes(content);
        byte[] gzipSeed = GzipOf(content[..10]);
        byte[] zstdSeed;
        using (var compressor = new Compressor(3))
        {
            zstdSeed = compressor.Wrap(content[..10]).ToArray();
        }

        Assert.Equal(content[..10], DecodeOrNull(estargz, 1, gzipSeed));
        Assert.Equal(content[..10], DecodeOrNull(zstd, 0, zstdSeed));
        for (int i = 0; i < Iterations; i++)
        {
            DecodeOrNull(estargz, 1, FuzzInput.Mutate(gzipSeed, random));
            DecodeOrNull(estargz, estargz.Units.Count - 1, FuzzInput.Mutate(member, random));
            DecodeOrNull(zstd, 0, i % 10 == 9 ? FuzzInput.RandomBytes(random, 50) : FuzzInput.Mutate(zstdSeed, random));
        }
    }

    // Decodes bytes padded or cut to the unit's compressed length: the result, or null after a clean error.
    private static byte[]? DecodeOrNull(SeekableLayerIndex index, int unitIndex, byte[] bytes)
    {
        var unit = index.Units[unitIndex];
        byte[] encoded = new byte[unit.CompressedLength];
        bytes.AsSpan(0, Math.Min(bytes.Length, encoded.Length)).CopyTo(encoded);
        byte[] decoded = new byte[unit.DataLength];
        try
        {
            index.Decode(unitIndex, encoded, decoded);
            return decoded;
        }
        catch (InvalidDataException)
        {
            return null;
        }
    }

    private static byte[] GzipOf(byte[] data)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(data);
        }

        return buffer.ToArray();
    }

    private static void CleanErrorOrValid(Func<SeekableLayerIndex> read)
    {
        SeekableLayerIndex index;
        try
        {
            index = read();
        }
        catch (InvalidDataException)
        {
            return;
        }

        long end = 0;
        foreach (var unit in index.Units)
        {
            Assert.True(unit.DataOffset >= end && unit.CompressedOffset + unit.CompressedLength <= index.Layer.Size);
            end = unit.DataOffset + unit.DataLength;
        }

        foreach (var entry in index.Entries)
        {
            Assert.True(entry.DataOffset + entry.Header.Size <= end || entry.Header.Size == 0);
        }
    }

    private static (Descriptor Layer, byte[] Member) EstargzLayer(byte[] json)
    {
        byte[] member = GzipOf(new TarBuilder().AddFile(EstargzLayerIndex.TocName, json).ToArray());
        var layer = new Descriptor("application/vnd.oci.image.layer.v1.tar+gzip", Digest.Compute("layer"u8), TocOffset + member.Length + EstargzFooter.Size)
        {
            Annotations = new Dictionary<string, string> { [EstargzLayerIndex.TocDigestAnnotation] = Digest.Compute(json).ToString() },
        };
        return (layer, member);
    }

    private static (Descriptor Layer, ZstdChunkedLayerIndex.ManifestPosition Position, byte[] Manifest) ZstdLayer(byte[] json)
    {
        byte[] manifest;
        using (var compressor = new Compressor(3))
        {
            manifest = compressor.Wrap(json).ToArray();
        }

        var position = new ZstdChunkedLayerIndex.ManifestPosition(1000, manifest.Length, Math.Max(1, json.Length));
        var layer = WithChecksum(new Descriptor(Accelerator.Oci.Model.MediaTypes.OciLayerZstd, Digest.Compute("layer"u8), 1000 + manifest.Length + 48), manifest);
        return (layer, position, manifest);
    }

    private static Descriptor WithChecksum(Descriptor layer, byte[] manifest) => layer with
    {
        Size = 1000 + manifest.Length + 48,
        Annotations = new Dictionary<string, string> { [ZstdChunkedLayerIndex.LegacyManifestChecksumAnnotation] = Digest.Compute(manifest).ToString() },
    };

    private static byte[] EstargzFooterBytes(long tocOffset)
    {
        // gzip header with FEXTRA, XLEN 26, subfield 'S','G' of 22 bytes, an empty final stored block, CRC and size 0.
        var footer = new List<byte> { 0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 0xff, 26, 0, (byte)'S', (byte)'G', 22, 0 };
        footer.AddRange(Encoding.ASCII.GetBytes($"{tocOffset:x16}STARGZ"));
        footer.AddRange([1, 0, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0]);
        return [.. footer];
    }

    private static byte[] ZstdFooterBytes(ZstdChunkedLayerIndex.ManifestPosition position)
    {
        byte[] footer = new byte[ZstdChunkedLayerIndex.FooterSize];
        BitConverter.TryWriteBytes(footer.AsSpan(0), (ulong)position.Offset);
        BitConverter.TryWriteBytes(footer.AsSpan(8), (ulong)position.Length);
        BitConverter.TryWriteBytes(footer.AsSpan(16), (ulong)position.UncompressedLength);
        BitConverter.TryWriteBytes(footer.AsSpan(24), 1UL);
        "GnUlInUx"u8.CopyTo(footer.AsSpan(32));
        return footer;
    }
}
