using Accelerator.Lazy.Format;

namespace Accelerator.Lazy.Tests.Support;

/// <summary>A small hand-made bootstrap with one of everything, as columns to tamper with.</summary>
internal static class SampleBootstraps
{
    // Inodes: 1 "/" dir, 2 "/dev" char device 1,3, 3 "/dir" dir, 4 "/file" (= "/dir/hard") regular 200 bytes in two
    // chunks with a hole at 100..150, 5 "/link" symlink to "file".
    public static BootstrapModel Model() => new()
    {
        ChunkSize = LazyFormat.MinChunkSize,
        Strings = ["dev", "dir", "file", "hard", "link", "user.x"],
        BlobDigests = Digests(0xB0, 1),
        BlobSizes = [15],
        ChunkBlob = [0, 0],
        ChunkOffset = [0, 10],
        ChunkCompressedSize = [10, 5],
        ChunkUncompressedSize = [100, 50],
        ChunkDigests = Digests(0xC0, 2),
        InodeType = [(byte)FileEntryType.Directory, (byte)FileEntryType.CharDevice, (byte)FileEntryType.Directory, (byte)FileEntryType.Regular, (byte)FileEntryType.Symlink],
        Mode = [0x1ED, 0x1B6, 0x1ED, 0x9ED, 0x1FF],
        Uid = [0, 0, 1000, 1234, 0],
        Gid = [0, 0, 1000, 5678, 0],
        MtimeSeconds = [1_577_836_800, 1_577_836_800, 1_577_836_801, 981_173_106, 1_577_836_800],
        MtimeNanoseconds = [0, 0, 0, 123_456_789, 0],
        Size = [0, 0, 0, 200, 4],
        XattrSet = [0, 0, 0, 1, 0],
        SymlinkTarget = [0, 0, 0, 0, 3],
        DeviceMajor = [0, 1, 0, 0, 0],
        DeviceMinor = [0, 3, 0, 0, 0],
        ChunkRefCount = [0, 0, 0, 2, 0],
        RefChunk = [0, 1],
        RefOffset = [0, 150],
        DentryParent = [1, 1, 1, 1, 3],
        DentryName = [0, 1, 2, 4, 3],
        DentryChild = [2, 3, 4, 5, 4],
        XattrSets = [[(5u, new byte[] { 0, 0xFF, 1 })]],
        Prefetch = [4],
    };

    /// <summary>The encoded (uncompressed) bytes of a model.</summary>
    public static byte[] Encode(BootstrapModel model) => BootstrapCodec.Encode(model);

    private static byte[] Digests(byte seed, int count)
    {
        var bytes = new byte[count * LazyFormat.DigestBytes];
        for (int i = 0; i < bytes.Length; i++)
        {
            bytes[i] = (byte)(seed + i);
        }

        return bytes;
    }
}
