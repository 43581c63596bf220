using Accelerator.Chunks.Caching;
using Accelerator.Fuse;
using Accelerator.Fuse.FileSystem;
using Accelerator.Linux;
using Accelerator.Oci.Layers;
using Accelerator.Oci.Model;
using Accelerator.Seekable.Gzip;
using Accelerator.Seekable.Reading;
using Accelerator.Seekable.Tests.Gzip;
using Accelerator.Testing.Tar;
using Accelerator.Testing.Trees;

namespace Accelerator.Seekable.Tests.Reading;

/// <summary>
/// The heart of "an overlay of per-layer trees, whiteouts honoured": a real FUSE mount of a forest, with the kernel's
/// overlayfs over its layer directories, shows the same tree as <see cref="LayerApplier"/> applying the same layers in
/// order — deleted files and directories, opaque directories, replaced files, hard links, symlinks, devices. The
/// layers are indexed in the identity test format (units are raw tar slices) and as real gzip layers
/// (<see cref="GzipIndexBuilder"/>, 64 KiB spans).
/// </summary>
public sealed class SeekableForestMountTests : IDisposable
{
    private const long Time0 = 1_600_000_000;
    private readonly string _directory = Directory.CreateTempSubdirectory("accel-seekable-mount-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Theory]
    [InlineData("identity")]
    [InlineData("gzip")]
    public async Task Overlay_OfTheForestsLayerDirectories_EqualsTheLayersAppliedInOrder(string format)
    {
        var built = Layers();
        byte[][] layers = [.. built.Select(l => l.ToArray())];
        string applied = Directory.CreateDirectory(Path.Combine(_directory, "applied")).FullName;
        foreach (byte[] layer in layers)
        {
            await LayerApplier.ApplyAsync(new MemoryStream(layer), LayerCompression.None, applied);
        }

        await using var mounted = await MountedForest.MountAsync(_directory, await IndexAsync(built, format));
        Assert.All(mounted.Forest.Layers, l => Assert.Equal(format == "gzip" ? "gzip-index" : "identity", l.Format));
        Assert.True(mounted.Forest.Layers[0].Units.Count > 3, $"{mounted.Forest.Layers[0].Units.Count} units");

        var differences = TreeSnapshot.Compare(TreeSnapshot.Capture(applied), TreeSnapshot.Capture(mounted.Merged));
        Assert.True(differences.Count == 0, string.Join(Environment.NewLine, differences));

        // The cases this stands for are really there (a tree that lost them would compare equal to nothing else).
        Assert.False(File.Exists(Path.Combine(mounted.Merged, "etc/deleted")));
        Assert.False(Directory.Exists(Path.Combine(mounted.Merged, "var/lib/old/sub")));
        Assert.Equal(["c"], Directory.GetFiles(Path.Combine(mounted.Merged, "opt/app")).Select(Path.GetFileName));
        Assert.Equal("new motd\n", File.ReadAllText(Path.Combine(mounted.Merged, "etc/motd")));
        Assert.Equal(Tool, File.ReadAllBytes(Path.Combine(mounted.Merged, "usr/bin/tool-link")));
        Assert.Equal("/usr/bin/other", new FileInfo(Path.Combine(mounted.Merged, "etc/alt")).LinkTarget);
        Assert.Equal(3u, (uint)LibC.Lstat(Path.Combine(mounted.Merged, "usr/bin/tool")).Nlink);
    }

    [Theory]
    [InlineData("identity")]
    [InlineData("gzip")]
    public async Task Read_UnitChangedAtTheSource_EioThroughFuseNothingCachedThenReadsAfterRestore(string format)
    {
        var layers = await IndexAsync(Layers(), format);
        await using var mounted = await MountedForest.MountAsync(_directory, layers);
        ulong inode = mounted.Forest.FindPath(0, "/usr/bin/tool")!.Value;
        var entry = mounted.Forest.FileOf(inode)!.Value.Entry;
        var index = mounted.Forest.Layers[0];
        var bad = index.Units[index.FindUnit(entry.DataOffset + 5000)];
        byte[] changed = (byte[])layers[0].Blob.Clone();
        changed[bad.CompressedOffset + (bad.CompressedLength / 2)] ^= 0x55;
        mounted.Source.Replace(index.Layer.Digest, changed);
        string path = Path.Combine(mounted.Merged, "usr/bin/tool");

        var error = Assert.ThrowsAny<IOException>(() => File.ReadAllBytes(path));

        Assert.Contains("Input/output error", error.Message, StringComparison.Ordinal);
        Assert.False(mounted.Cache.Contains(bad.Digest));
        int requests = mounted.Source.Ranges.Count;

        mounted.Source.Replace(index.Layer.Digest, layers[0].Blob);
        Assert.Equal(Tool, File.ReadAllBytes(path));
        Assert.True(mounted.Source.Ranges.Count > requests);
    }

    private static readonly byte[] Tool = SeekableContentReaderTests.Bytes(20_000, seed: 42);

    private async Task<(SeekableLayerIndex Index, byte[] Blob)[]> IndexAsync(TarBuilder[] layers, string format)
    {
        var indexed = new List<(SeekableLayerIndex, byte[])>();
        foreach (var layer in layers)
        {
            if (format == "gzip")
            {
                // gzip(1), as image builders do: many deflate blocks, so the bigger layer has several spans.
                string tar = Path.Combine(_directory, $"layer-{indexed.Count}.tar");
                await File.WriteAllBytesAsync(tar, layer.ToArray());
                await GzipTestLayers.ShellAsync($"gzip -n -c '{tar}' > '{tar}.gz'");
                byte[] blob = await File.ReadAllBytesAsync(tar + ".gz");
                var descriptor = Descriptor.FromContent("application/vnd.oci.image.layer.v1.tar+gzip", blob);
                indexed.Add((await GzipIndexBuilder.BuildAsync(new MemoryStream(blob), descriptor, new GzipIndexOptions { SpanSize = GzipIndexOptions.MinSpanSize }), blob));
            }
            else
            {
                byte[] blob = layer.ToArray();
                indexed.Add((IdentityLayerIndex.Build(blob, unitSize: 4096), blob));
            }
        }

        return [.. indexed];
    }

    private static TarBuilder[] Layers()
    {
        var xattr = new Dictionary<string, byte[]> { ["user.origin"] = "layer0"u8.ToArray() };
        var bottom = new TarBuilder()
            .AddDirectory("./", modificationTime: Time0)
            .AddDirectory("etc", modificationTime: Time0)
            .AddFile("etc/passwd", "root:x:0:0::/root:/bin/sh\n"u8.ToArray(), modificationTime: Time0)
            .AddFile("etc/deleted", "soon gone"u8.ToArray(), modificationTime: Time0)
            .AddFile("etc/motd", "old motd\n"u8.ToArray(), modificationTime: Time0)
            .AddDirectory("var", modificationTime: Time0).AddDirectory("var/lib", modificationTime: Time0)
            .AddDirectory("var/lib/old", modificationTime: Time0).AddDirectory("var/lib/old/sub", modificationTime: Time0)
            .AddFile("var/lib/old/sub/file", "old"u8.ToArray(), modificationTime: Time0)
            .AddDirectory("opt", modificationTime: Time0).AddDirectory("opt/app", mode: (UnixFileMode)0x1C0, uid: 1000, gid: 1000, modificationTime: Time0)
            .AddFile("opt/app/a", "a"u8.ToArray(), modificationTime: Time0).AddFile("opt/app/b", "b"u8.ToArray(), modificationTime: Time0)
            .AddDirectory("usr", modificationTime: Time0).AddDirectory("usr/bin", modificationTime: Time0).AddDirectory("usr/lib", modificationTime: Time0)
            .AddFile("usr/bin/tool", Tool, mode: (UnixFileMode)0x1ED, xattrs: xattr, modificationTime: Time0)
            .AddHardLink("usr/bin/tool-link", "usr/bin/tool")
            .AddHardLink("usr/bin/tool-again", "./usr/bin/tool")
            .AddFile("usr/lib/libx.so", SeekableContentReaderTests.Bytes(9000, seed: 43), modificationTime: Time0)
            .AddFile("usr/lib/big.bin", SeekableContentReaderTests.Bytes(300_000, seed: 44), modificationTime: Time0)
            .AddSymlink("lib", "usr/lib", modificationTime: Time0)
            .AddDirectory("dev", modificationTime: Time0)
            .AddCharacterDevice("dev/null", 1, 3)
            .AddDirectory("srv", modificationTime: Time0).AddDirectory("srv/data", modificationTime: Time0)
            .AddFile("srv/data/inside", "x"u8.ToArray(), modificationTime: Time0);
        var middle = new TarBuilder()
            .AddDirectory("etc", modificationTime: Time0 + 10)
            .AddWhiteout("etc/deleted")
            .AddFile("etc/motd", "new motd\n"u8.ToArray(), modificationTime: Time0 + 10)
            .AddSymlink("etc/alt", "/usr/bin/other", modificationTime: Time0 + 10)
            .AddWhiteout("var/lib/old")
            .AddDirectory("opt/app", mode: (UnixFileMode)0x1ED, modificationTime: Time0 + 10)
            .AddOpaque("opt/app")
            .AddFile("opt/app/c", "c"u8.ToArray(), modificationTime: Time0 + 10)
            .AddFile("usr/bin/other", "other"u8.ToArray(), mode: (UnixFileMode)0x1ED, modificationTime: Time0 + 10)
            .AddHardLink("usr/bin/other2", "usr/bin/other")
            .AddFile("srv/data", "was a directory"u8.ToArray(), modificationTime: Time0 + 10);
        var top = new TarBuilder()
            .AddDirectory("var/lib/old", modificationTime: Time0 + 20)
            .AddFile("var/lib/old/fresh", "fresh"u8.ToArray(), modificationTime: Time0 + 20)
            .AddWhiteout("usr/lib/libx.so")
            .AddFile("usr/lib/liby.so", "y"u8.ToArray(), modificationTime: Time0 + 20);
        return [bottom, middle, top];
    }
}
