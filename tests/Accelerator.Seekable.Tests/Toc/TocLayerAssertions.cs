using Accelerator.Oci.Layers;

namespace Accelerator.Seekable.Tests.Toc;

/// <summary>Checks a TOC-read layer against the layer's real tar stream: entries and every byte of content.</summary>
internal static class TocLayerAssertions
{
    /// <summary>Decodes unit <paramref name="unitIndex"/> from the blob and verifies its sha256, as a reader must.</summary>
    public static byte[] ReadVerifiedUnit(SeekableLayerIndex index, int unitIndex, ReadOnlySpan<byte> blob)
    {
        var unit = index.Units[unitIndex];
        byte[] decoded = new byte[unit.DataLength];
        index.Decode(unitIndex, blob.Slice(checked((int)unit.CompressedOffset), unit.CompressedLength), decoded);
        var actual = Digest.Compute(decoded);
        if (actual != unit.Digest)
        {
            throw new InvalidDataException($"Unit {unitIndex} of layer {index.Layer.Digest} decodes to {actual}, not {unit.Digest}.");
        }

        return decoded;
    }

    /// <summary>
    /// Asserts that <paramref name="index"/> lists exactly the entries of <paramref name="tar"/> in order, that its units
    /// cover the data space without gaps, and that the verified units hold every regular file's bytes.
    /// </summary>
    /// <returns>How many regular files with content were compared, and how many of them had more than one unit.</returns>
    public static async Task<(int Files, int MultiUnitFiles)> AssertMatchesTarAsync(SeekableLayerIndex index, byte[] blob, Stream tar, bool compareOwnerNames)
    {
        long covered = 0;
        foreach (var unit in index.Units)
        {
            Assert.Equal(covered, unit.DataOffset);
            covered += unit.DataLength;
        }

        using var reader = new LayerTarReader(tar, leaveOpen: true);
        int entryIndex = 0, unitIndex = 0, files = 0, multiUnitFiles = 0;
        byte[] current = [];
        int currentOffset = 0;
        long dataOffset = 0;
        while (await reader.ReadNextAsync() is { } entry)
        {
            Assert.True(entryIndex < index.Entries.Count, $"The tar has more entries than the index ({index.Entries.Count}); next: {entry.Header.Path}.");
            var expected = entry.Header;
            var (actual, actualOffset) = index.Entries[entryIndex++];
            string at = $"entry {entryIndex - 1} '{expected.Path}'";
            Assert.True(expected.Path == actual.Path, $"{at}: index has '{actual.Path}'.");
            Assert.True(expected.Kind == actual.Kind, $"{at}: kind {actual.Kind}, tar {expected.Kind}.");
            Assert.True(expected.Mode == actual.Mode, $"{at}: mode {actual.Mode}, tar {expected.Mode}.");
            Assert.True(expected.Uid == actual.Uid && expected.Gid == actual.Gid, $"{at}: owner {actual.Uid}:{actual.Gid}, tar {expected.Uid}:{expected.Gid}.");
            Assert.True(expected.Size == actual.Size, $"{at}: size {actual.Size}, tar {expected.Size}.");
            Assert.True(expected.ModificationTime.Seconds == actual.ModificationTime.Seconds, $"{at}: mtime {actual.ModificationTime}, tar {expected.ModificationTime}.");
            Assert.True(expected.LinkTarget == actual.LinkTarget, $"{at}: link '{actual.LinkTarget}', tar '{expected.LinkTarget}'.");
            Assert.True(expected.DeviceMajor == actual.DeviceMajor && expected.DeviceMinor == actual.DeviceMinor, $"{at}: device numbers differ.");
            Assert.Equal(expected.ExtendedAttributes.Keys.Order(StringComparer.Ordinal), actual.ExtendedAttributes.Keys.Order(StringComparer.Ordinal));
            foreach (var (name, value) in expected.ExtendedAttributes)
            {
                Assert.True(value.Span.SequenceEqual(actual.ExtendedAttributes[name].Span), $"{at}: xattr {name} differs.");
            }

            if (compareOwnerNames)
            {
                Assert.True(expected.UserName == actual.UserName && expected.GroupName == actual.GroupName, $"{at}: owner names {actual.UserName}:{actual.GroupName}, tar {expected.UserName}:{expected.GroupName}.");
            }

            if (expected.Kind != TarEntryKind.RegularFile || expected.Size == 0)
            {
                continue;
            }

            Assert.True(dataOffset == actualOffset, $"{at}: data offset {actualOffset}, expected {dataOffset}.");
            files++;
            int firstUnit = unitIndex;
            byte[] buffer = new byte[81920];
            long remaining = expected.Size;
            var content = entry.OpenContent();
            while (remaining > 0)
            {
                int wanted = (int)Math.Min(buffer.Length, remaining);
                await content.ReadExactlyAsync(buffer.AsMemory(0, wanted));
                int compared = 0;
                while (compared < wanted)
                {
                    if (currentOffset == current.Length)
                    {
                        Assert.True(unitIndex < index.Units.Count, $"{at}: the units end before the file does.");
                        current = ReadVerifiedUnit(index, unitIndex++, blob);
                        currentOffset = 0;
                    }

                    int n = Math.Min(wanted - compared, current.Length - currentOffset);
                    Assert.True(buffer.AsSpan(compared, n).SequenceEqual(current.AsSpan(currentOffset, n)), $"{at}: content differs near file offset {expected.Size - remaining + compared}.");
                    compared += n;
                    currentOffset += n;
                }

                remaining -= wanted;
            }

            Assert.True(currentOffset == current.Length, $"{at}: a unit spans the end of the file.");
            if (unitIndex - firstUnit > 1)
            {
                multiUnitFiles++;
            }

            dataOffset += expected.Size;
        }

        Assert.Equal(index.Entries.Count, entryIndex);
        Assert.Equal(index.Units.Count, unitIndex);
        return (files, multiUnitFiles);
    }
}
