using System.Security.Cryptography;
using Accelerator.Seekable.Gzip;

namespace Accelerator.Seekable.Tests.Gzip;

/// <summary>
/// <see cref="GzipIndexBuilder"/> on streams made by real tools (gzip levels, pigz, multi-member, uncompressed), on
/// corrupt blobs, and on layers it must refuse.
/// </summary>
public sealed class GzipIndexBuilderTests(CompressedVariantsFixture fixture) : IClassFixture<CompressedVariantsFixture>
{
    [Theory]
    [InlineData(CompressedVariantsFixture.Gzip1)]
    [InlineData(CompressedVariantsFixture.Gzip9)]
    [InlineData(CompressedVariantsFixture.Pigz)]
    [InlineData(CompressedVariantsFixture.MultiMember)]
    [InlineData(CompressedVariantsFixture.Uncompressed)]
    public async Task BuildAsync_ToolMadeStream_EverySpanIsTheTarAndEntriesAgree(string variant)
    {
        LayerFile layer = fixture.Variants[variant];

        GzipLayerIndex index = await GzipTestLayers.BuildAsync(layer, GzipIndexOptions.MinSpanSize);

        Assert.Equal(variant == CompressedVariantsFixture.Uncompressed ? GzipLayerIndex.TarFormat : GzipLayerIndex.GzipFormat, index.Format);
        byte[] tar = await File.ReadAllBytesAsync(fixture.TarPath);
        Assert.Equal(tar.Length, index.UncompressedSize);
        // gzip -1 writes blocks of ~100 KiB of output, so spans run past the 64 KiB asked for; still, many of them.
        Assert.True(index.Units.Count >= tar.Length / (4 * GzipIndexOptions.MinSpanSize), $"only {index.Units.Count} spans");
        using var blob = new SafeFileHandleHolder(layer.Path);
        for (int unit = 0; unit < index.Units.Count; unit++)
        {
            SeekableUnit u = index.Units[unit];
            Assert.True(tar.AsSpan((int)u.DataOffset, u.DataLength).SequenceEqual(GzipTestLayers.DecodeVerified(index, blob, unit)), $"span {unit}");
        }

        Assert.Equal(fixture.TarIndex.Entries.Count, index.Entries.Count);
        for (int i = 0; i < index.Entries.Count; i++)
        {
            SeekableEntryAssert.Equal(fixture.TarIndex.Entries[i], index.Entries[i]);
        }

        if (variant == CompressedVariantsFixture.MultiMember)
        {
            Assert.Contains(index.Checkpoints!.Skip(1), c => c.IsMemberStart);
            Assert.Contains(index.Checkpoints!, c => !c.IsMemberStart && c.Bits != 0);
        }
    }

    [Fact]
    public async Task BuildAsync_EveryRegularFile_DataOffsetPointsAtItsBytesInTheTar()
    {
        byte[] tar = await File.ReadAllBytesAsync(fixture.TarPath);
        using var blob = new SafeFileHandleHolder(fixture.Variants[CompressedVariantsFixture.Gzip9].Path);
        GzipLayerIndex index = await GzipTestLayers.BuildAsync(fixture.Variants[CompressedVariantsFixture.Gzip9], 1 << 20);
        var cache = new Dictionary<int, byte[]>();
        int files = 0;
        foreach (SeekableEntry entry in index.Entries.Where(e => e.Header.Size > 0))
        {
            // The tar header block right before the data names the file (ustar: name at 0, or a pax/GNU record before it).
            Assert.Equal(0, entry.DataOffset % 512);
            byte[] data = GzipTestLayers.ReadThroughIndex(index, blob, entry.DataOffset, entry.Header.Size, cache);
            Assert.True(tar.AsSpan((int)entry.DataOffset, (int)entry.Header.Size).SequenceEqual(data), entry.Header.Path);
            files++;
        }

        Assert.True(files > 100, $"only {files} files");
    }

    [Theory]
    [InlineData(CompressedVariantsFixture.Pigz)]
    [InlineData(CompressedVariantsFixture.MultiMember)]
    [InlineData(CompressedVariantsFixture.Uncompressed)]
    public async Task BuildAsync_OnUnit_GivesEveryUnitOfTheIndexWithItsDecodedBytes(string variant)
    {
        LayerFile layer = fixture.Variants[variant];
        var seen = new List<(SeekableUnit Unit, Digest Hash)>();
        await using FileStream stream = File.OpenRead(layer.Path);

        GzipLayerIndex index = await GzipIndexBuilder.BuildAsync(stream, layer.Descriptor, new GzipIndexOptions { SpanSize = 256 << 10 }, (unit, bytes) =>
        {
            seen.Add((unit, Digest.FromHash(Digest.Sha256, SHA256.HashData(bytes.Span))));
            return ValueTask.CompletedTask;
        });

        Assert.Equal(index.Units, seen.Select(s => s.Unit));
        Assert.Equal(index.Units.Select(u => u.Digest), seen.Select(s => s.Hash));
    }

    [Fact]
    public async Task BuildAsync_FlippedByte_DigestMismatchException()
    {
        LayerFile layer = fixture.Variants[CompressedVariantsFixture.Gzip1];
        byte[] blob = await File.ReadAllBytesAsync(layer.Path);
        blob[blob.Length / 2] ^= 0x10;

        // The inflater or the tar reader may trip first; the blob's digest is what the caller hears about.
        var error = await Assert.ThrowsAsync<DigestMismatchException>(() => GzipIndexBuilder.BuildAsync(new MemoryStream(blob), layer.Descriptor));
        Assert.Equal(layer.Descriptor.Digest, error.Expected);
    }

    [Theory]
    [InlineData(-1000)]
    [InlineData(1)]
    public async Task BuildAsync_WrongLength_DigestMismatchException(int delta)
    {
        LayerFile layer = fixture.Variants[CompressedVariantsFixture.MultiMember];
        byte[] blob = await File.ReadAllBytesAsync(layer.Path);
        byte[] changed = delta < 0 ? blob[..(blob.Length + delta)] : [.. blob, .. new byte[delta]];

        await Assert.ThrowsAsync<DigestMismatchException>(() => GzipIndexBuilder.BuildAsync(new MemoryStream(changed), layer.Descriptor));
    }

    [Fact]
    public async Task BuildAsync_IntactBlobOfAnotherDescriptor_DigestMismatchException()
    {
        LayerFile layer = fixture.Variants[CompressedVariantsFixture.Uncompressed];
        var other = layer.Descriptor with { Digest = fixture.Variants[CompressedVariantsFixture.Gzip1].Descriptor.Digest };
        await using FileStream stream = File.OpenRead(layer.Path);

        await Assert.ThrowsAsync<DigestMismatchException>(() => GzipIndexBuilder.BuildAsync(stream, other));
    }

    [Theory]
    [InlineData("gnu")]
    [InlineData("pax")]
    public async Task BuildAsync_SparseFileMadeByGnuTar_NotSupportedException(string format)
    {
        string directory = Directory.CreateDirectory(Path.Combine(fixture.Work, "sparse-" + format)).FullName;
        await GzipTestLayers.ShellAsync(
            $"cd '{directory}' && echo hello > small && truncate -s 8M holes && echo tail >> holes && tar --sparse --format={format} -czf ../sparse-{format}.tar.gz small holes");
        LayerFile layer = GzipTestLayers.Describe(Path.Combine(fixture.Work, $"sparse-{format}.tar.gz"));

        var error = await Assert.ThrowsAsync<NotSupportedException>(() => GzipTestLayers.BuildAsync(layer));
        Assert.Contains("sparse", error.Message, StringComparison.Ordinal);
        Assert.Contains("holes", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BuildAsync_ZstdLayer_NotSupportedException()
    {
        string path = Path.Combine(fixture.Work, "layer.tar.zst");
        await GzipTestLayers.ShellAsync($"zstd -q -f -3 '{fixture.TarPath}' -o '{path}'");

        var error = await Assert.ThrowsAsync<NotSupportedException>(() => GzipTestLayers.BuildAsync(GzipTestLayers.Describe(path)));
        Assert.Contains("zstd", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BuildAsync_GzipOfSomethingNotTar_InvalidDataException()
    {
        var random = new Random(3);
        byte[] noise = new byte[5000];
        random.NextBytes(noise);
        string path = Path.Combine(fixture.Work, "noise");
        await File.WriteAllBytesAsync(path, noise);
        await GzipTestLayers.ShellAsync($"gzip -f '{path}'");

        await Assert.ThrowsAsync<InvalidDataException>(() => GzipTestLayers.BuildAsync(GzipTestLayers.Describe(path + ".gz")));
    }

    [Fact]
    public async Task BuildAsync_GarbageAfterTheLastMember_InvalidDataException()
    {
        byte[] blob = [.. await File.ReadAllBytesAsync(fixture.Variants[CompressedVariantsFixture.Gzip1].Path), .. "trailing garbage"u8];
        string path = Path.Combine(fixture.Work, "trailing.gz");
        await File.WriteAllBytesAsync(path, blob);

        await Assert.ThrowsAsync<InvalidDataException>(() => GzipTestLayers.BuildAsync(GzipTestLayers.Describe(path)));
    }

    [Fact]
    public async Task BuildAsync_OverTheUncompressedLimit_ContentTooLargeException()
    {
        LayerFile layer = fixture.Variants[CompressedVariantsFixture.Gzip1];
        await using FileStream stream = File.OpenRead(layer.Path);

        var error = await Assert.ThrowsAsync<ContentTooLargeException>(() =>
            GzipIndexBuilder.BuildAsync(stream, layer.Descriptor, new GzipIndexOptions { MaxUncompressedBytes = 1 << 20 }));
        Assert.Contains(layer.Descriptor.Digest.Value, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BuildAsync_OverTheEntryLimit_ContentTooLargeException()
    {
        LayerFile layer = fixture.Variants[CompressedVariantsFixture.Pigz];
        await using FileStream stream = File.OpenRead(layer.Path);

        await Assert.ThrowsAsync<ContentTooLargeException>(() =>
            GzipIndexBuilder.BuildAsync(stream, layer.Descriptor, new GzipIndexOptions { MaxEntries = 100 }));
    }

    [Fact]
    public async Task Decode_ManyThreadsAtOnce_SameBytesAsOneAtATime()
    {
        LayerFile layer = fixture.Variants[CompressedVariantsFixture.MultiMember];
        GzipLayerIndex index = await GzipTestLayers.BuildAsync(layer, 256 << 10);
        byte[] blob = await File.ReadAllBytesAsync(layer.Path);
        byte[] tar = await File.ReadAllBytesAsync(fixture.TarPath);
        var failures = new System.Collections.Concurrent.ConcurrentBag<int>();

        Parallel.For(0, index.Units.Count * 3, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            int unit = i % index.Units.Count;
            SeekableUnit u = index.Units[unit];
            var decoded = new byte[u.DataLength];
            index.Decode(unit, blob.AsSpan((int)u.CompressedOffset, u.CompressedLength), decoded);
            if (!decoded.AsSpan().SequenceEqual(tar.AsSpan((int)u.DataOffset, u.DataLength)))
            {
                failures.Add(unit);
            }
        });

        Assert.Empty(failures);
    }

    [Theory]
    [InlineData(GzipIndexOptions.MinSpanSize - 1)]
    [InlineData(GzipIndexOptions.MaxSpanSize + 1)]
    public async Task BuildAsync_SpanSizeOutOfBounds_ArgumentOutOfRangeException(int spanSize)
    {
        LayerFile layer = fixture.Variants[CompressedVariantsFixture.Gzip1];
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => GzipTestLayers.BuildAsync(layer, spanSize));
    }

    [Fact]
    public async Task Read_IndexOfAnotherLayer_InvalidDataException()
    {
        GzipLayerIndex index = await GzipTestLayers.BuildAsync(fixture.Variants[CompressedVariantsFixture.Pigz], 1 << 20);
        byte[] blob = index.ToBytes();

        var error = Assert.Throws<InvalidDataException>(() => GzipLayerIndex.Read(blob, fixture.Variants[CompressedVariantsFixture.Gzip9].Descriptor));
        Assert.Contains(fixture.Variants[CompressedVariantsFixture.Gzip9].Descriptor.Digest.Value, error.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidDataException>(() => GzipLayerIndex.Read(blob, index.Layer with { Size = index.Layer.Size + 1 }));
        Assert.Equal(index.Units, GzipLayerIndex.Read(blob, index.Layer).Units);
    }

    [Fact]
    public async Task Decode_ChangedSpanBytes_DigestNoLongerMatches()
    {
        LayerFile layer = fixture.Variants[CompressedVariantsFixture.Gzip9];
        GzipLayerIndex index = await GzipTestLayers.BuildAsync(layer, 1 << 20);
        byte[] blob = await File.ReadAllBytesAsync(layer.Path);
        SeekableUnit unit = index.Units[2];
        byte[] encoded = blob.AsSpan((int)unit.CompressedOffset, unit.CompressedLength).ToArray();
        encoded[encoded.Length / 2] ^= 0x01;
        var decoded = new byte[unit.DataLength];

        try
        {
            index.Decode(2, encoded, decoded);
            Assert.NotEqual(unit.Digest, Digest.FromHash(Digest.Sha256, SHA256.HashData(decoded)));
        }
        catch (InvalidDataException)
        {
            // A flipped bit that breaks the deflate data is found by the inflater itself.
        }
    }
}
