using System.Buffers.Binary;

namespace Accelerator.Block.Mounting;

/// <summary>Recognises the file system on a disk from its superblock magic.</summary>
internal static class DiskFileSystemType
{
    // ext2/3/4: s_magic 0xEF53 (little-endian) at byte 56 of the superblock, which starts at byte 1024 (ext4.h).
    private const int ExtMagicOffset = 1024 + 56;
    private const ushort ExtMagic = 0xEF53;

    // erofs: EROFS_SUPER_MAGIC_V1 0xE0F5E1E2 (little-endian) at EROFS_SUPER_OFFSET 1024 (erofs_fs.h).
    private const int ErofsMagicOffset = 1024;
    private const uint ErofsMagic = 0xE0F5E1E2;

    // squashfs: "hsqs" at byte 0 (SQUASHFS_MAGIC 0x73717368, little-endian).
    private const uint SquashfsMagic = 0x73717368;

    /// <summary>The type for mount(2) of the file system on <paramref name="disk"/>, or null when unknown.</summary>
    /// <exception cref="IOException">The disk could not be read.</exception>
    public static async Task<string?> DetectAsync(IVirtualDisk disk, CancellationToken cancellationToken)
    {
        if (disk.Size < 2048)
        {
            return null;
        }

        byte[] head = new byte[2048];
        await disk.ReadAsync(0, head, cancellationToken).ConfigureAwait(false);
        return Detect(head);
    }

    /// <summary>The type for the first 2048 bytes of a disk, or null.</summary>
    public static string? Detect(ReadOnlySpan<byte> head)
    {
        if (head.Length >= ExtMagicOffset + 2 && BinaryPrimitives.ReadUInt16LittleEndian(head[ExtMagicOffset..]) == ExtMagic)
        {
            // The ext4 driver mounts ext2 and ext3 too.
            return "ext4";
        }

        if (head.Length >= ErofsMagicOffset + 4 && BinaryPrimitives.ReadUInt32LittleEndian(head[ErofsMagicOffset..]) == ErofsMagic)
        {
            return "erofs";
        }

        if (head.Length >= 4 && BinaryPrimitives.ReadUInt32LittleEndian(head) == SquashfsMagic)
        {
            return "squashfs";
        }

        return null;
    }
}
