using Accelerator.Seekable.Gzip;
using Accelerator.Testing.Images;

namespace Accelerator.Seekable.Tests.Gzip;

public sealed class GzipLayerIndexRoundTripTests
{
    [Fact]
    public async Task ToBytes_ReadBack_SameEntriesUnitsAndDecoding()
    {
        LayerFile layer = (await GzipTestLayers.CorpusLayersAsync(DebianImageCorpus.Layered)).First(l => l.Descriptor.Size < 20 << 20 && l.Descriptor.Size > 1 << 20);
        GzipLayerIndex built = await GzipTestLayers.BuildAsync(layer, 256 << 10);

        byte[] blob = built.ToBytes();
        GzipLayerIndex read = GzipLayerIndex.Read(blob, layer.Descriptor);

        Assert.Equal(built.Format, read.Format);
        Assert.Equal(built.SpanSize, read.SpanSize);
        Assert.Equal(built.UncompressedSize, read.UncompressedSize);
        Assert.Equal(built.Units, read.Units);
        Assert.Equal(built.Entries.Count, read.Entries.Count);
        for (int i = 0; i < built.Entries.Count; i++)
        {
            SeekableEntryAssert.Equal(built.Entries[i], read.Entries[i]);
        }

        Assert.Equal(blob, read.ToBytes());
        using var handle = new SafeFileHandleHolder(layer.Path);
        for (int unit = 0; unit < read.Units.Count; unit++)
        {
            Assert.Equal(GzipTestLayers.DecodeVerified(built, handle, unit), GzipTestLayers.DecodeVerified(read, handle, unit));
        }
    }
}

internal static class SeekableEntryAssert
{
    public static void Equal(SeekableEntry expected, SeekableEntry actual)
    {
        Assert.Equal(expected.DataOffset, actual.DataOffset);
        var (e, a) = (expected.Header, actual.Header);
        Assert.Equal(
            (e.Path, e.Kind, e.Mode, e.Uid, e.Gid, e.UserName, e.GroupName, e.Size, e.ModificationTime, e.LinkTarget, e.DeviceMajor, e.DeviceMinor),
            (a.Path, a.Kind, a.Mode, a.Uid, a.Gid, a.UserName, a.GroupName, a.Size, a.ModificationTime, a.LinkTarget, a.DeviceMajor, a.DeviceMinor));
        Assert.Equal(
            e.ExtendedAttributes.OrderBy(x => x.Key, StringComparer.Ordinal).Select(x => (x.Key, Convert.ToHexString(x.Value.Span))),
            a.ExtendedAttributes.OrderBy(x => x.Key, StringComparer.Ordinal).Select(x => (x.Key, Convert.ToHexString(x.Value.Span))));
    }
}
