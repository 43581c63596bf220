using System.Security.Cryptography;
using Accelerator.Block.Conversion;
using Accelerator.Block.Format;
using Accelerator.Block.Layers;
using Accelerator.Testing;

namespace Accelerator.Block.Tests.Support;

/// <summary>A block image built in a temporary directory from a small tree: its raw ext4 image, blobs in memory, and a cache directory.</summary>
internal sealed class BlockTestImage : IDisposable
{
    private BlockTestImage(string root, string rawPath, BlockImageBuild build, InMemoryBlobSource source)
    {
        Root = root;
        RawPath = rawPath;
        Build = build;
        Source = source;
    }

    public string Root { get; }

    public string RawPath { get; }

    public BlockImageBuild Build { get; }

    public BlockIndex Index => Build.Index;

    public InMemoryBlobSource Source { get; }

    public string CacheDirectory => Path.Combine(Root, "cache");

    public const string Repository = "test/block";

    /// <summary>A tree with text, a repeated block pattern (dedup), a hole (zeros), xattrs and a hardlink.</summary>
    public static void WriteSampleTree(string tree)
    {
        Directory.CreateDirectory(Path.Combine(tree, "etc"));
        Directory.CreateDirectory(Path.Combine(tree, "data"));
        File.WriteAllText(Path.Combine(tree, "etc", "hostname"), "block-test\n");
        var random = new Random(42);
        byte[] noise = new byte[300_000];
        random.NextBytes(noise);
        File.WriteAllBytes(Path.Combine(tree, "data", "noise.bin"), noise);
        File.WriteAllBytes(Path.Combine(tree, "data", "noise-copy.bin"), noise);
        byte[] text = System.Text.Encoding.ASCII.GetBytes(string.Concat(Enumerable.Range(0, 20_000).Select(i => $"line {i}\n")));
        File.WriteAllBytes(Path.Combine(tree, "data", "text.txt"), text);
        File.CreateSymbolicLink(Path.Combine(tree, "data", "link"), "text.txt");
    }

    public static async Task<BlockTestImage> CreateAsync(BlockWriteOptions? options = null, Action<string>? writeTree = null, long freeBytes = 8 << 20)
    {
        string root = Directory.CreateTempSubdirectory("accel-block-test-").FullName;
        string tree = Path.Combine(root, "tree");
        Directory.CreateDirectory(tree);
        (writeTree ?? WriteSampleTree)(tree);
        string raw = Path.Combine(root, "disk.img");
        options ??= new BlockWriteOptions();
        await FileSystemImageBuilder.BuildAsync(tree, raw, BlockFileSystem.Ext4, "seed", freeBytes, options.BlockSize);
        BlockImageBuild build = await BlockImageWriter.WriteAsync(raw, Path.Combine(root, "blobs"), options);
        var source = new InMemoryBlobSource();
        foreach (var (_, path) in build.Blobs)
        {
            source.Add(File.ReadAllBytes(path));
        }

        return new BlockTestImage(root, raw, build, source);
    }

    public BlockLayerStack Open(IBlobSource? source = null, BlockStackOptions? options = null, BlockIndex? index = null) =>
        BlockLayerStack.Open(index ?? Index, source ?? Source, Repository, options ?? new BlockStackOptions { CacheDirectory = CacheDirectory });

    public static async Task<string> HashDiskAsync(IVirtualDisk disk, int chunk = 1 << 20)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] buffer = new byte[chunk];
        for (long offset = 0; offset < disk.Size; offset += chunk)
        {
            int n = (int)Math.Min(chunk, disk.Size - offset);
            await disk.ReadAsync(offset, buffer.AsMemory(0, n));
            hash.AppendData(buffer, 0, n);
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    public string HashRaw()
    {
        using var stream = File.OpenRead(RawPath);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
