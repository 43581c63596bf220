using System.Diagnostics;
using System.Text;
using Accelerator.Linux;
using Accelerator.Oci.Layers;
using Accelerator.Testing.Tar;

namespace Accelerator.Oci.Tests.Layers;

public sealed class LayerTarReaderTests
{
    private static async Task<List<(TarEntryHeader Header, byte[] Content)>> ReadAllAsync(byte[] archive)
    {
        var result = new List<(TarEntryHeader, byte[])>();
        await using var reader = new LayerTarReader(new MemoryStream(archive));
        while (await reader.ReadNextAsync() is { } entry)
        {
            var content = new MemoryStream();
            await entry.OpenContent().CopyToAsync(content);
            result.Add((entry.Header, content.ToArray()));
        }

        return result;
    }

    [Fact]
    public async Task ReadNextAsync_PaxRecords_AllFieldsKept()
    {
        byte[] binary = [0x00, 0x01, 0xFE, 0xFF, 0xC3, 0x28];
        string longName = string.Join('/', Enumerable.Repeat("segment-of-a-long-path", 12));
        string longTarget = "../" + new string('t', 300);
        byte[] archive = new TarBuilder()
            .AddFile(longName, "data"u8.ToArray(), (UnixFileMode)Convert.ToInt32("6755", 8), uid: 3_000_000_000, gid: 77,
                xattrs: new Dictionary<string, byte[]> { ["security.capability"] = binary, ["user.text"] = "v"u8.ToArray() },
                modificationTime: 1_700_000_000, nanoseconds: 5)
            .AddSymlink("sym", longTarget)
            .AddCharacterDevice("dev/tty", 5, 0)
            .ToArray();

        var entries = await ReadAllAsync(archive);

        Assert.Equal(3, entries.Count);
        TarEntryHeader file = entries[0].Header;
        Assert.Equal(longName, file.Path);
        Assert.Equal(TarEntryKind.RegularFile, file.Kind);
        Assert.Equal((UnixFileMode)Convert.ToInt32("6755", 8), file.Mode);
        Assert.Equal(3_000_000_000, file.Uid);
        Assert.Equal(77, file.Gid);
        Assert.Equal(new TarTimestamp(1_700_000_000, 5), file.ModificationTime);
        Assert.Equal(binary, file.ExtendedAttributes["security.capability"].ToArray());
        Assert.Equal("v"u8.ToArray(), file.ExtendedAttributes["user.text"].ToArray());
        Assert.Equal("data"u8.ToArray(), entries[0].Content);
        Assert.Equal(longTarget, entries[1].Header.LinkTarget);
        Assert.Equal((TarEntryKind.CharacterDevice, 5, 0), (entries[2].Header.Kind, entries[2].Header.DeviceMajor, entries[2].Header.DeviceMinor));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ReadNextAsync_DataOffset_IsWhereTheEntrysBytesLieInTheArchive(bool gnu)
    {
        byte[] first = Encoding.ASCII.GetBytes(new string('a', 1000));
        byte[] second = Encoding.ASCII.GetBytes(new string('b', 513));
        byte[] archive = new TarBuilder(gnu)
            .AddGlobalPax([new("comment", "x"u8.ToArray())])
            .AddFile("dir/" + new string('n', 200), first, xattrs: new Dictionary<string, byte[]> { ["user.a"] = [1] })
            .AddDirectory("dir/")
            .AddFile("second", second)
            .AddFile("empty", [])
            .ToArray();
        await using var reader = new LayerTarReader(new MemoryStream(archive));
        var offsets = new List<(long Offset, long Size)>();
        while (await reader.ReadNextAsync() is { } entry)
        {
            // Reading part of the data (or none) does not change where the next entry's data is found.
            await entry.Data.ReadAtLeastAsync(new byte[7], 7, throwOnEndOfStream: false);
            offsets.Add((entry.DataOffset, entry.Header.Size));
        }

        Assert.Equal(4, offsets.Count);
        Assert.Equal(first, archive.AsSpan((int)offsets[0].Offset, first.Length).ToArray());
        Assert.Equal(second, archive.AsSpan((int)offsets[2].Offset, second.Length).ToArray());
        Assert.All(offsets, o => Assert.Equal(0, o.Offset % 512));
    }

    [Fact]
    public async Task ReadNextAsync_GnuLongNames_Decoded()
    {
        string longName = new('n', 250);
        string longLink = new('l', 180);
        var entries = await ReadAllAsync(new TarBuilder(gnuFormat: true).AddFile(longName, "x").AddHardLink("h" + longName, longLink).ToArray());
        Assert.Equal(longName, entries[0].Header.Path);
        Assert.Equal("h" + longName, entries[1].Header.Path);
        Assert.Equal(longLink, entries[1].Header.LinkTarget);
    }

    [Fact]
    public async Task ReadNextAsync_GlobalPax_AppliesToLaterEntries()
    {
        byte[] archive = new TarBuilder()
            .AddGlobalPax([new("uid", "42"u8.ToArray()), new("SCHILY.xattr.user.g", [1, 2])])
            .AddFile("a", "1")
            .Add(new TarBuilderEntry { Path = "b", ExtraPaxRecords = [new("uid", "7"u8.ToArray())] })
            .ToArray();
        var entries = await ReadAllAsync(archive);
        Assert.Equal(42, entries[0].Header.Uid);
        Assert.Equal(7, entries[1].Header.Uid);
        Assert.Equal(new byte[] { 1, 2 }, entries[1].Header.ExtendedAttributes["user.g"].ToArray());
    }

    [Fact]
    public async Task ReadNextAsync_UnreadData_SkippedAndOldStreamInvalid()
    {
        await using var reader = new LayerTarReader(new MemoryStream(new TarBuilder().AddFile("a", new byte[3000]).AddFile("b", "bee").ToArray()));
        LayerTarEntry first = (await reader.ReadNextAsync())!;
        first.Data.ReadExactly(new byte[10]);
        LayerTarEntry second = (await reader.ReadNextAsync())!;
        Assert.Equal("b", second.Header.Path);
        Assert.Throws<InvalidOperationException>(() => first.Data.ReadByte());
        Assert.Equal("bee", new StreamReader(second.Data).ReadToEnd());
        Assert.Null(await reader.ReadNextAsync());
        Assert.Equal(2, reader.EntriesRead);
    }

    [Theory]
    [InlineData('D')]
    [InlineData('X')]
    [InlineData('S')] // 'S' outside GNU format is not a sparse file
    public async Task ReadNextAsync_UnknownType_ThrowsInvalidData(char type)
    {
        byte[] archive = new TarBuilder().Add(new TarBuilderEntry { Path = "weird", TypeFlag = type }).ToArray();
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => ReadAllAsync(archive));
        Assert.Contains("unsupported type", e.Message);
    }

    [Fact]
    public async Task ReadNextAsync_BadChecksum_ThrowsInvalidData()
    {
        byte[] archive = new TarBuilder().AddFile("a", "x").ToArray();
        archive[10] ^= 0x01;
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => ReadAllAsync(archive));
        Assert.Contains("checksum", e.Message);
    }

    [Fact]
    public async Task ReadNextAsync_Truncated_ThrowsInvalidData()
    {
        byte[] archive = new TarBuilder().AddFile("a", new byte[2000]).ToArrayWithoutEnd();
        await Assert.ThrowsAsync<InvalidDataException>(() => ReadAllAsync(archive[..1200]));
        await Assert.ThrowsAsync<InvalidDataException>(() => ReadAllAsync(archive[..300]));
    }

    [Fact]
    public async Task ReadNextAsync_OversizedPaxHeader_ThrowsBeforeReading()
    {
        byte[] archive = new TarBuilder().Add(new TarBuilderEntry { Path = "pax", TypeFlag = 'x', Data = new byte[LayerTarReader.MaxPaxHeaderBytes + 1] }).ToArray();
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => ReadAllAsync(archive));
        Assert.Contains("exceeds the limit", e.Message);
    }

    [Fact]
    public async Task ReadNextAsync_NoEndMarker_EndsCleanly()
    {
        var entries = await ReadAllAsync(new TarBuilder().AddFile("a", "x").ToArrayWithoutEnd());
        Assert.Single(entries);
    }

    [Theory]
    [InlineData(TarSparseFormat.GnuOld)]
    [InlineData(TarSparseFormat.Pax00)]
    [InlineData(TarSparseFormat.Pax01)]
    [InlineData(TarSparseFormat.Pax10)]
    public async Task ReadNextAsync_SparseWithManySegments_ExpandsContent(TarSparseFormat format)
    {
        // 30 segments: more than an old GNU header holds (4), so extension blocks are needed.
        var segments = Enumerable.Range(0, 30).Select(i => ((long)i * 10_000 + 3, Encoding.ASCII.GetBytes($"seg{i:D2}"))).ToList();
        const long size = 400_000;
        byte[] expected = new byte[size];
        foreach (var (offset, data) in segments)
        {
            data.CopyTo(expected, offset);
        }

        var entries = await ReadAllAsync(new TarBuilder(gnuFormat: format == TarSparseFormat.GnuOld).AddSparseFile("dir/sparse", size, segments, format).AddFile("after", "z").ToArray());

        Assert.Equal("dir/sparse", entries[0].Header.Path);
        Assert.Equal(size, entries[0].Header.Size);
        Assert.Equal(30, entries[0].Header.SparseMap!.Count);
        Assert.Equal(expected, entries[0].Content);
        Assert.Equal("after", entries[1].Header.Path);
    }

    public static TheoryData<string> GnuTarFormats() =>
    [
        "--format=posix --xattrs --sparse",
        "--format=posix --xattrs --sparse --sparse-version=0.0",
        "--format=posix --xattrs --sparse --sparse-version=0.1",
        "--format=gnu --sparse",
    ];

    [Theory]
    [MemberData(nameof(GnuTarFormats))]
    public async Task ReadNextAsync_GnuTarArchive_MatchesSourceTree(string flags)
    {
        using var dir = new LayerTestDirectory();
        string src = Path.Combine(dir.Base, "src");
        Directory.CreateDirectory(src);
        string longDir = Path.Combine(src, new string('d', 120));
        Directory.CreateDirectory(longDir);
        File.WriteAllText(Path.Combine(longDir, new string('f', 110)), "long named");
        File.WriteAllBytes(Path.Combine(src, "binary"), [0, 1, 2, 255]);
        using (var sparse = File.Create(Path.Combine(src, "sparse")))
        {
            sparse.SetLength(8 << 20);
            sparse.Position = 1 << 20;
            sparse.Write("middle"u8);
            sparse.Position = (8 << 20) - 5;
            sparse.Write("tail!"u8);
        }

        File.CreateSymbolicLink(Path.Combine(src, "link"), "binary");
        Run("ln", $"{Path.Combine(src, "binary")} {Path.Combine(src, "hard")}");
        LibC.SetXattr(Path.Combine(src, "binary"), "user.bin", [0x00, 0xFF, 0x80]);
        Run("mkfifo", Path.Combine(src, "fifo"));
        string archivePath = Path.Combine(dir.Base, "a.tar");
        Run("tar", $"{flags} -cf {archivePath} -C {src} .");

        var entries = await ReadAllAsync(await File.ReadAllBytesAsync(archivePath));
        var byPath = entries.ToDictionary(e => e.Header.Path.TrimStart('.', '/').TrimEnd('/'));

        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(src, "sparse")), byPath["sparse"].Content);
        Assert.NotNull(byPath["sparse"].Header.SparseMap);
        Assert.Equal("long named", Encoding.UTF8.GetString(byPath[Path.GetRelativePath(src, Path.Combine(longDir, new string('f', 110)))].Content));
        Assert.Equal("binary", byPath["link"].Header.LinkTarget);
        Assert.Equal(TarEntryKind.Fifo, byPath["fifo"].Header.Kind);
        Assert.Contains(TarEntryKind.HardLink, new[] { byPath["hard"].Header.Kind, byPath["binary"].Header.Kind });
        if (flags.Contains("--xattrs"))
        {
            Assert.Equal(new byte[] { 0x00, 0xFF, 0x80 }, byPath["binary"].Header.ExtendedAttributes["user.bin"].ToArray());
        }

        // And unpacked, the tree reads back the same, holes included.
        await LayerApplier.ApplyAsync(File.OpenRead(archivePath), null, dir.Root);
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(src, "sparse")), await File.ReadAllBytesAsync(dir.InRoot("sparse")));
        Assert.True(LayerTestDirectory.Stat(dir.InRoot("sparse")).Blocks * 512 < 1 << 20);
        Assert.Equal(LayerTestDirectory.Stat(Path.Combine(src, "sparse")).MtimeSeconds, LayerTestDirectory.Stat(dir.InRoot("sparse")).MtimeSeconds);
        Assert.Equal(LayerTestDirectory.Stat(dir.InRoot("binary")).Inode, LayerTestDirectory.Stat(dir.InRoot("hard")).Inode);
    }

    private static void Run(string file, string arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        string error = process.StandardError.ReadToEnd();
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{file} {arguments}: {error}");
    }
}
