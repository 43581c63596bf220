using System.Formats.Tar;
using Accelerator.Oci.Layers;
using Accelerator.Seekable.Gzip;
using Xunit.Abstractions;

namespace Accelerator.Seekable.Tests.Gzip;

/// <summary>
/// The index of real Debian layers (the cached corpus) against independent readers: <c>gzip -dc</c> for the stream and
/// System.Formats.Tar for the files.
/// </summary>
public sealed class GzipIndexBuilderCorpusTests(CorpusLayerIndexFixture fixture, ITestOutputHelper output) : IClassFixture<CorpusLayerIndexFixture>
{
    [Fact]
    public async Task BuildAsync_CorpusLayers_EverySpanDecodesToWhatGzipGives()
    {
        Assert.True(fixture.Layers.Count >= 3);
        foreach (var (layer, index, _, _) in fixture.Layers)
        {
            Assert.Equal(GzipLayerIndex.GzipFormat, index.Format);
            using var gunzip = GzipTestLayers.StartGunzip(layer.Path);
            Stream expected = gunzip.StandardOutput.BaseStream;
            using var blob = new SafeFileHandleHolder(layer.Path);
            long total = 0;
            for (int unit = 0; unit < index.Units.Count; unit++)
            {
                byte[] decoded = GzipTestLayers.DecodeVerified(index, blob, unit);
                var reference = new byte[decoded.Length];
                await expected.ReadExactlyAsync(reference);
                Assert.True(reference.AsSpan().SequenceEqual(decoded), $"span {unit} of {layer} differs from gzip -dc");
                total += decoded.Length;
            }

            Assert.Equal(0, await expected.ReadAsync(new byte[1]));
            await gunzip.WaitForExitAsync();
            Assert.Equal(0, gunzip.ExitCode);
            Assert.Equal(index.UncompressedSize, total);
        }
    }

    [Fact]
    public async Task BuildAsync_CorpusLayers_EveryFileThroughTheIndexEqualsTheTar()
    {
        foreach (var (layer, index, _, _) in fixture.Layers)
        {
            using var gunzip = GzipTestLayers.StartGunzip(layer.Path);
            using var tar = new TarReader(gunzip.StandardOutput.BaseStream);
            using var blob = new SafeFileHandleHolder(layer.Path);
            var cache = new Dictionary<int, byte[]>();
            int files = 0, i = 0;
            while (await tar.GetNextEntryAsync() is { } entry)
            {
                Assert.True(i < index.Entries.Count, $"{layer}: the index has fewer entries than the tar");
                SeekableEntry indexed = index.Entries[i++];
                Assert.Equal(entry.Name, indexed.Header.Path);
                if (entry.EntryType is TarEntryType.RegularFile or TarEntryType.V7RegularFile)
                {
                    Assert.Equal(TarEntryKind.RegularFile, indexed.Header.Kind);
                    Assert.Equal(entry.Length, indexed.Header.Size);
                    var content = new byte[entry.Length];
                    if (entry.DataStream is { } data)
                    {
                        await data.ReadExactlyAsync(content);
                    }

                    byte[] viaIndex = GzipTestLayers.ReadThroughIndex(index, blob, indexed.DataOffset, indexed.Header.Size, cache);
                    Assert.True(content.AsSpan().SequenceEqual(viaIndex), $"{layer}: '{entry.Name}' read through the index differs from the tar");
                    files++;
                }
            }

            Assert.Equal(index.Entries.Count, i);
            output.WriteLine($"{layer}: {index.Entries.Count} entries, {files} regular files compared");
        }
    }

    [Fact]
    public void BuildAsync_CorpusLayers_IndexAtMostTwoPercentOfEveryLayerOverEightMiB()
    {
        foreach (var (layer, index, time, cpu) in fixture.Layers)
        {
            int indexBytes = index.ToBytes().Length;
            double percent = 100.0 * indexBytes / layer.Descriptor.Size;
            output.WriteLine(
                $"{layer}: {index.UncompressedSize} bytes uncompressed, {index.Units.Count} spans, {index.Entries.Count} entries; "
                + $"index {indexBytes} bytes = {percent:F2}% of the layer; built in {time.TotalSeconds:F2} s "
                + $"({layer.Descriptor.Size / time.TotalSeconds / 1e6:F0} MB/s compressed, {index.UncompressedSize / time.TotalSeconds / 1e6:F0} MB/s uncompressed), "
                + $"{cpu.TotalSeconds:F2} s of CPU ({layer.Descriptor.Size / cpu.TotalSeconds / 1e6:F0} MB/s compressed per CPU second)");
            if (layer.Descriptor.Size >= 8 << 20)
            {
                Assert.True(percent <= 2.0, $"{layer}: the index is {percent:F2}% of the layer");
            }
        }
    }
}
