using Accelerator.Lazy.Format;
using Accelerator.Lazy.Tests.Support;

namespace Accelerator.Lazy.Tests.Format;

public sealed class LazyBootstrapTests
{
    private static LazyBootstrap Load(BootstrapModel model) => LazyBootstrap.Read(BootstrapCodec.Compress(BootstrapCodec.Encode(model)));

    [Fact]
    public void Read_SampleBlob_ServesTheTree()
    {
        var bootstrap = Load(SampleBootstraps.Model());
        IChunkIndex index = bootstrap;

        Assert.Equal(5, index.InodeCount);
        Assert.Equal(1ul, index.RootInode);
        var root = index.GetEntry(1)!;
        Assert.Equal(("/", FileEntryType.Directory, 3u), (root.Path, root.Type, root.LinkCount));
        Assert.Equal(["dev", "dir", "file", "link"], index.ReadDirectory(1).Select(e => e.Name));

        var file = index.Lookup(1, "file")!;
        Assert.Equal((4ul, "/file", 200L, 2u, 0x9EDu, 1234u, 5678u), (file.Inode, file.Path, file.Size, file.LinkCount, file.Mode, file.Uid, file.Gid));
        Assert.Equal(new byte[] { 0, 0xFF, 1 }, file.ExtendedAttributes!["user.x"]);
        var hard = index.Lookup(3, "hard")!;
        Assert.Equal((4ul, "/dir/hard"), (hard.Inode, hard.Path));
        Assert.Null(index.Lookup(1, "missing"));
        Assert.Null(index.Lookup(4, "file"));
        Assert.Null(index.Lookup(99, "file"));
        Assert.Null(index.GetEntry(0));
        Assert.Null(index.GetEntry(6));

        var chunks = index.GetChunks(4);
        Assert.Equal([0L, 150L], chunks.Select(c => c.FileOffset));
        Assert.Equal([10, 5], chunks.Select(c => c.CompressedSize));
        Assert.Equal([0L, 10L], chunks.Select(c => c.CompressedOffset));
        Assert.All(chunks, c => Assert.Equal(bootstrap.Blobs[0].Digest, c.Blob));
        Assert.Empty(index.GetChunks(5));

        var link = bootstrap.LookupPath("/link")!;
        Assert.Equal(("file", 4L, 0x1FFu), (link.LinkTarget, link.Size, link.Mode));
        var device = bootstrap.LookupPath("dev")!;
        Assert.Equal((FileEntryType.CharDevice, 1u, 3u), (device.Type, device.DeviceMajor, device.DeviceMinor));
        Assert.Equal(new Accelerator.Oci.Layers.TarTimestamp(981_173_106, 123_456_789), bootstrap.GetModificationTime(4));
        Assert.Equal([4ul], bootstrap.PrefetchInodes);
        Assert.Equal(200, bootstrap.FileBytes);
        Assert.Null(bootstrap.LookupPath("/file/x"));
        Assert.Equal("/", bootstrap.LookupPath("/")!.Path);
    }

    [Fact]
    public void Encode_SameModel_SameBytes()
    {
        byte[] first = BootstrapCodec.Compress(BootstrapCodec.Encode(SampleBootstraps.Model()));
        byte[] second = Load(SampleBootstraps.Model()).ToBlob();

        Assert.Equal(first, second);
        Assert.Equal(BootstrapCodec.Magic.ToArray(), BootstrapCodec.Decompress(first, 1 << 20)[..8]);
    }

    private static readonly Dictionary<string, Action<BootstrapModel>> Tampering = new()
    {
        { "dentry child out of range", m => m.DentryChild[0] = 99 },
        { "dentry child is the root", m => m.DentryChild[0] = 1 },
        { "dentry parent out of range", m => m.DentryParent[4] = 77 },
        { "dentry parent not a directory", m => m.DentryParent[4] = 4 },
        { "directory cycle", m => { m.DentryParent = [1, 1, 1, 3, 3]; m.DentryName = [0, 2, 4, 1, 3]; m.DentryChild = [2, 4, 5, 3, 4]; } },
        { "hard-linked directory", m => m.DentryChild[4] = 3 },
        { "orphan inode", m => { m.DentryParent = m.DentryParent[..4]; m.DentryName = m.DentryName[..4]; m.DentryChild = [2, 3, 4, 4]; } },
        { "unsorted entries", m => m.DentryName[0] = 4 },
        { "duplicate name", m => m.DentryName[1] = 0 },
        { "name string out of range", m => m.DentryName[0] = 1000 },
        { "name with a slash", m => m.Strings[0] = "d/v" },
        { "name dot-dot", m => m.Strings[0] = ".." },
        { "chunk past the blob end", m => m.BlobSizes[0] = 12 },
        { "chunk in a missing blob", m => m.ChunkBlob[1] = 3 },
        { "chunks overlap", m => m.ChunkOffset[1] = 5 },
        { "chunk stored larger than it is", m => m.ChunkCompressedSize[1] = 51 },
        { "chunk larger than the chunk size", m => m.ChunkUncompressedSize[0] = LazyFormat.MinChunkSize + 1 },
        { "chunk of size zero", m => m.ChunkUncompressedSize[1] = 0 },
        { "file chunk out of range", m => m.RefChunk[1] = 2 },
        { "file chunks overlap", m => m.RefOffset[1] = 50 },
        { "file chunk past the size", m => m.Size[3] = 180 },
        { "chunk refs on a directory", m => { m.ChunkRefCount[2] = 1; m.ChunkRefCount[3] = 1; } },
        { "symlink target out of range", m => m.SymlinkTarget[4] = 50 },
        { "symlink size wrong", m => m.Size[4] = 3 },
        { "target on a non-link", m => m.SymlinkTarget[1] = 1 },
        { "device numbers on a file", m => m.DeviceMajor[3] = 8 },
        { "unknown type", m => m.InodeType[1] = 9 },
        { "root not a directory", m => m.InodeType[0] = (byte)FileEntryType.Fifo },
        { "mode beyond 07777", m => m.Mode[3] = 0x81ED },
        { "nanoseconds overflow", m => m.MtimeNanoseconds[3] = 1_000_000_000 },
        { "mtime beyond year 9999", m => m.MtimeSeconds[3] = 253_402_300_800 },
        { "xattr set out of range", m => m.XattrSet[3] = 2 },
        { "xattr value too large", m => m.XattrSets[0][0].Value = new byte[LazyFormat.MaxXattrValueBytes + 1] },
        { "prefetch inode out of range", m => m.Prefetch = [6] },
        { "chunk size not a power of two", m => m.ChunkSize = LazyFormat.MinChunkSize + 1 },
        { "chunk size too large", m => m.ChunkSize = LazyFormat.MaxChunkSize * 2 },
        { "no inodes", m => { m.InodeType = []; m.Mode = []; m.Uid = []; m.Gid = []; m.MtimeSeconds = []; m.MtimeNanoseconds = []; m.Size = []; m.XattrSet = []; m.SymlinkTarget = []; m.DeviceMajor = []; m.DeviceMinor = []; m.ChunkRefCount = []; m.RefChunk = []; m.RefOffset = []; m.DentryParent = []; m.DentryName = []; m.DentryChild = []; m.Prefetch = []; } },
        { "blob listed twice", m => { m.BlobDigests = [.. m.BlobDigests, .. m.BlobDigests]; m.BlobSizes = [15, 15]; } },
    };

    public static TheoryData<string> HostileModels() => [.. Tampering.Keys];

    [Theory]
    [MemberData(nameof(HostileModels))]
    public void Read_HostileBootstrap_InvalidDataException(string name)
    {
        var model = SampleBootstraps.Model();
        Tampering[name](model);

        var ex = Assert.Throws<InvalidDataException>(() => Load(model));
        Assert.False(string.IsNullOrEmpty(ex.Message), name);
    }

    [Fact]
    public void Read_HugeCountInHeader_InvalidDataExceptionWithoutAllocating()
    {
        // Header, then: array of 9 sections, chunk size 65536, string table claiming 2^31 - 1 strings, and nothing else.
        byte[] raw = [.. BootstrapCodec.Magic, 1, 0, 0, 0, 0x99, 0xCE, 0, 1, 0, 0, 0xDD, 0x7F, 0xFF, 0xFF, 0xFF];

        var before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Throws<InvalidDataException>(() => LazyBootstrap.ReadUncompressed(raw));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
    }

    [Fact]
    public void Read_HugeBinLength_InvalidDataException()
    {
        var model = SampleBootstraps.Model();
        byte[] raw = BootstrapCodec.Encode(model);
        // The blob digests bin (0xC4, 32) of the sample: claim a 2 GiB bin32 instead.
        int at = raw.AsSpan().IndexOf(new byte[] { 0xC4, 32, 0xB0 });
        byte[] hostile = [.. raw[..at], 0xC6, 0x7F, 0xFF, 0xFF, 0xFF, .. raw[(at + 2)..]];

        Assert.Throws<InvalidDataException>(() => LazyBootstrap.ReadUncompressed(hostile));
    }

    [Theory]
    [InlineData(new byte[] { })]
    [InlineData(new byte[] { 1, 2, 3 })]
    public void Read_NotZstd_InvalidDataException(byte[] blob) =>
        Assert.Throws<InvalidDataException>(() => LazyBootstrap.Read(blob));

    [Fact]
    public void Read_WrongMagicVersionOrTrailingBytes_InvalidDataException()
    {
        byte[] raw = BootstrapCodec.Encode(SampleBootstraps.Model());
        byte[] magic = [.. raw];
        magic[0] = (byte)'X';
        byte[] version = [.. raw];
        version[8] = 2;
        byte[] trailing = [.. raw, 0xC0];

        Assert.Contains("magic", Assert.Throws<InvalidDataException>(() => LazyBootstrap.ReadUncompressed(magic)).Message);
        Assert.Contains("version 2", Assert.Throws<InvalidDataException>(() => LazyBootstrap.ReadUncompressed(version)).Message);
        Assert.Throws<InvalidDataException>(() => LazyBootstrap.ReadUncompressed(trailing));
    }

    [Fact]
    public void Read_DecompressesPastLimit_InvalidDataException()
    {
        byte[] blob = BootstrapCodec.Compress(new byte[1 << 20]);

        Assert.Contains("limit", Assert.Throws<InvalidDataException>(() => LazyBootstrap.Read(blob, maxUncompressedBytes: 1 << 16)).Message);
    }

    [Fact]
    public void Read_InvalidUtf8Name_InvalidDataException()
    {
        byte[] raw = BootstrapCodec.Encode(SampleBootstraps.Model());
        int at = raw.AsSpan().IndexOf("dev"u8);
        raw[at] = 0xFF;

        Assert.Throws<InvalidDataException>(() => LazyBootstrap.ReadUncompressed(raw));
    }
}
