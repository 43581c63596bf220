namespace Accelerator.Block.Layers;

/// <summary>Range checks shared by the disks of this library (the <see cref="IVirtualDisk"/> error contract).</summary>
internal static class DiskRange
{
    public static void Check(long offset, long length, long size)
    {
        if (offset < 0 || length < 0 || offset > size || length > size - offset)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), offset, $"The range {offset}+{length} is outside the disk's {size} bytes.");
        }
    }
}
