namespace Accelerator.Lazy.Format;

/// <summary>
/// A bootstrap as plain columns, exactly what the codec reads and writes (absolute values; the delta encodings live in
/// the codec). <see cref="LazyBootstrap"/> validates and indexes it. Index <c>i</c> of an inode column is inode
/// <c>i + 1</c>; inode 1 is the root directory.
/// </summary>
internal sealed class BootstrapModel
{
    public int ChunkSize { get; set; } = LazyFormat.DefaultChunkSize;

    /// <summary>Names, symbolic link targets and xattr names, referenced by index.</summary>
    public string[] Strings { get; set; } = [];

    /// <summary>Raw sha256 of each data blob, 32 bytes each.</summary>
    public byte[] BlobDigests { get; set; } = [];

    public long[] BlobSizes { get; set; } = [];

    public int[] ChunkBlob { get; set; } = [];

    public long[] ChunkOffset { get; set; } = [];

    public int[] ChunkCompressedSize { get; set; } = [];

    public int[] ChunkUncompressedSize { get; set; } = [];

    /// <summary>Raw sha256 of each uncompressed chunk, 32 bytes each.</summary>
    public byte[] ChunkDigests { get; set; } = [];

    public byte[] InodeType { get; set; } = [];

    public uint[] Mode { get; set; } = [];

    public uint[] Uid { get; set; } = [];

    public uint[] Gid { get; set; } = [];

    public long[] MtimeSeconds { get; set; } = [];

    public uint[] MtimeNanoseconds { get; set; } = [];

    public long[] Size { get; set; } = [];

    /// <summary>Per inode: 0 for none, else 1 + an index into <see cref="XattrSets"/>.</summary>
    public uint[] XattrSet { get; set; } = [];

    /// <summary>Per inode: 0 for none, else 1 + the string index of the symbolic link target.</summary>
    public uint[] SymlinkTarget { get; set; } = [];

    public uint[] DeviceMajor { get; set; } = [];

    public uint[] DeviceMinor { get; set; } = [];

    /// <summary>Per inode: how many entries of the file-chunk list belong to it (inodes in order).</summary>
    public int[] ChunkRefCount { get; set; } = [];

    /// <summary>File-chunk list: the chunk index of each piece of each regular file.</summary>
    public int[] RefChunk { get; set; } = [];

    /// <summary>File-chunk list: the file offset of each piece.</summary>
    public long[] RefOffset { get; set; } = [];

    public uint[] DentryParent { get; set; } = [];

    public uint[] DentryName { get; set; } = [];

    public uint[] DentryChild { get; set; } = [];

    /// <summary>Distinct xattr sets: (string index of the name, raw value), names ascending.</summary>
    public (uint Name, byte[] Value)[][] XattrSets { get; set; } = [];

    /// <summary>Inodes to fetch first, in order.</summary>
    public uint[] Prefetch { get; set; } = [];

    public int InodeCount => InodeType.Length;

    public int ChunkCount => ChunkBlob.Length;

    public int BlobCount => BlobSizes.Length;
}
