using Accelerator.Fuse.FileSystem;
using Accelerator.Fuse.Protocol;
using Accelerator.Linux;

namespace Accelerator.Block.Mounting;

/// <summary>
/// A FUSE tree of one file: the root directory holds <see cref="FileName"/>, whose content is the disk. The loop device
/// is attached to that file; every READ of it is a read of the disk.
/// </summary>
internal sealed class DiskFileSystem : IFuseFileSystem
{
    /// <summary>The name of the disk's file in the root.</summary>
    public const string FileName = "disk";

    private const ulong FileNodeId = 2;

    private readonly IVirtualDisk _disk;
    private readonly MountStatistics _statistics;
    private readonly FuseAttributes _root;
    private readonly FuseAttributes _file;
    private long _bytesRead;

    public DiskFileSystem(IVirtualDisk disk, UnixTime time, MountStatistics statistics)
    {
        _disk = disk;
        _statistics = statistics;
        _root = new FuseAttributes
        {
            NodeId = FuseProtocol.RootNodeId,
            Inode = FuseProtocol.RootNodeId,
            Type = FuseNodeType.Directory,
            Permissions = 0x1ED, // 0755
            LinkCount = 2,
            ModificationTime = time,
        };
        _file = new FuseAttributes
        {
            NodeId = FileNodeId,
            Inode = FileNodeId,
            Type = FuseNodeType.RegularFile,
            Permissions = 0x124, // 0444: the FUSE mount is read-only
            LinkCount = 1,
            Size = disk.Size,
            Blocks = (disk.Size + 511) / 512,
            BlockSize = (uint)disk.BlockSize,
            ModificationTime = time,
        };
    }

    /// <summary>Bytes the kernel read from the disk file.</summary>
    public long BytesRead => Interlocked.Read(ref _bytesRead);

    public FuseAttributes? GetAttributes(ulong nodeId) => nodeId switch
    {
        FuseProtocol.RootNodeId => _root,
        FileNodeId => _file,
        _ => null,
    };

    public FuseAttributes? Lookup(ulong parentNodeId, string name)
        => parentNodeId == FuseProtocol.RootNodeId && name == FileName ? _file : null;

    public byte[]? ReadLink(ulong nodeId) => null;

    public IReadOnlyList<FuseDirectoryEntry>? ReadDirectory(ulong nodeId)
        => nodeId == FuseProtocol.RootNodeId
            ? [new FuseDirectoryEntry(".", _root), new FuseDirectoryEntry("..", _root), new FuseDirectoryEntry(FileName, _file)]
            : null;

    public async ValueTask<int> ReadAsync(ulong nodeId, long offset, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        if (nodeId != FileNodeId)
        {
            throw new FuseErrorException(Errno.EISDIR);
        }

        if (offset >= _disk.Size || buffer.IsEmpty)
        {
            return 0;
        }

        int length = (int)Math.Min(buffer.Length, _disk.Size - offset);

        // The disk throws IOException when it cannot give verified bytes: the session answers EIO, never zeros.
        await _disk.ReadAsync(offset, buffer[..length], cancellationToken).ConfigureAwait(false);
        Interlocked.Add(ref _bytesRead, length);
        _statistics.AddRead(length);
        return length;
    }
}
