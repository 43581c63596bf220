using System.Security.Cryptography;
using Accelerator.Block.Conversion;
using Accelerator.Block.Format;
using Accelerator.Block.Layers;
using Accelerator.Block.Tests.Support;
using Accelerator.Testing.Images;

namespace Accelerator.Block.Tests.Layers;

/// <summary>
/// A real file system's writes through the copy-on-write layer, frozen into a new layer: the kernel's ext4 changes a
/// copy of the disk; the changed blocks are written through the layer, the stack is frozen, and the frozen image is a
/// clean ext4 holding the new file.
/// </summary>
public sealed class FrozenFileSystemTests
{
    [Fact]
    public async Task FreezeAsync_Ext4ChangedByKernel_FrozenImageIsCleanAndHoldsTheWrites()
    {
        using var image = await BlockTestImage.CreateAsync();
        string changed = Path.Combine(image.Root, "changed.img");
        File.Copy(image.RawPath, changed);
        string mountPoint = Directory.CreateDirectory(Path.Combine(image.Root, "rw")).FullName;
        byte[] content = RandomNumberGenerator.GetBytes(200_000);
        await ExternalTool.RunAsync("mount", ["-o", "loop", changed, mountPoint]);
        try
        {
            await File.WriteAllBytesAsync(Path.Combine(mountPoint, "etc", "new.bin"), content);
            File.Delete(Path.Combine(mountPoint, "data", "noise-copy.bin"));
        }
        finally
        {
            await ExternalTool.RunAsync("umount", [mountPoint]);
        }

        await using BlockLayerStack stack = image.Open();
        await using var cow = CopyOnWriteDisk.Open(stack, Path.Combine(image.Root, "cow"), "base");
        int bs = cow.BlockSize;
        byte[] before = new byte[bs], after = new byte[bs];
        using (var original = File.OpenHandle(image.RawPath))
        using (var modified = File.OpenHandle(changed))
        {
            for (long block = 0; block < cow.BlockCount; block++)
            {
                RandomAccess.Read(original, before, block * bs);
                RandomAccess.Read(modified, after, block * bs);
                if (!before.AsSpan().SequenceEqual(after))
                {
                    await (after.AsSpan().ContainsAnyExcept((byte)0) ? cow.WriteAsync(block * bs, after) : cow.TrimAsync(block * bs, bs));
                }
            }
        }

        Assert.True(cow.ChangedBlocks > 0);
        BlockImageBuild frozen = await BlockLayerFreezer.FreezeAsync(image.Index, cow, Path.Combine(image.Root, "frozen"));
        foreach (var (_, path) in frozen.Blobs)
        {
            image.Source.Add(File.ReadAllBytes(path));
        }

        string reassembled = Path.Combine(image.Root, "frozen.img");
        await using (BlockLayerStack snapshot = image.Open(index: BlockIndex.Read(frozen.Index.ToBytes()), options: new BlockStackOptions { CacheDirectory = Path.Combine(image.Root, "cache2") }))
        {
            byte[] all = new byte[snapshot.Size];
            await snapshot.ReadAsync(0, all);
            await File.WriteAllBytesAsync(reassembled, all);
        }

        Assert.Equal(File.ReadAllBytes(changed), File.ReadAllBytes(reassembled));
        await FileSystemImageBuilder.CheckExt4Async(reassembled);
        await ExternalTool.RunAsync("mount", ["-o", "loop,ro", reassembled, mountPoint]);
        try
        {
            Assert.Equal(content, await File.ReadAllBytesAsync(Path.Combine(mountPoint, "etc", "new.bin")));
            Assert.False(File.Exists(Path.Combine(mountPoint, "data", "noise-copy.bin")));
            Assert.True(File.Exists(Path.Combine(mountPoint, "data", "noise.bin")));
        }
        finally
        {
            await ExternalTool.RunAsync("umount", [mountPoint]);
        }
    }
}
