using Accelerator.Fuse.FileSystem;
using Accelerator.Linux;
using Accelerator.Testing.Trees;

namespace Accelerator.Fuse.Tests.Support;

/// <summary>File content of a <see cref="DirectoryChunkIndex"/>: preads of the real files.</summary>
internal sealed class DirectoryContentReader(DirectoryChunkIndex index) : IFileContentReader
{
    public ValueTask<int> ReadAsync(ulong inode, long offset, Memory<byte> buffer, CancellationToken cancellationToken)
        => index.ReadAsync(inode, offset, buffer, cancellationToken);
}

/// <summary>A real directory served over FUSE through <see cref="DirectoryChunkIndex"/> and <see cref="ChunkIndexFileSystem"/>.</summary>
internal sealed class DirectoryMount : IAsyncDisposable
{
    private DirectoryMount(FuseMount mount, DirectoryChunkIndex index)
    {
        Mount = mount;
        Index = index;
    }

    public FuseMount Mount { get; }

    public DirectoryChunkIndex Index { get; }

    public FuseSessionStatistics Statistics => Mount.Session.Statistics;

    public string this[string relative] => Path.Combine(Mount.MountPoint, relative);

    /// <summary>Mounts <paramref name="source"/>; <paramref name="content"/> may wrap the real reads (to hang or fail them).</summary>
    public static async Task<DirectoryMount> MountAsync(string source, string mountPoint, FuseMountOptions? options = null, Func<DirectoryChunkIndex, IFileContentReader>? content = null)
    {
        var index = DirectoryChunkIndex.Build(source);
        try
        {
            var reader = content?.Invoke(index) ?? new DirectoryContentReader(index);
            var mount = await FuseMount.MountAsync(mountPoint, new ChunkIndexFileSystem(index, reader), options);
            return new DirectoryMount(mount, index);
        }
        catch
        {
            index.Dispose();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Mount.DisposeAsync();
        Index.Dispose();
    }
}

/// <summary>A temporary directory with a source tree and an empty mount point, deleted on dispose.</summary>
internal sealed class MountScratch : IDisposable
{
    public MountScratch()
    {
        Root = Directory.CreateTempSubdirectory("accel-fuse-test-").FullName;
        Source = Directory.CreateDirectory(Path.Combine(Root, "source")).FullName;
        MountPoint = Directory.CreateDirectory(Path.Combine(Root, "mnt")).FullName;
    }

    public string Root { get; }

    public string Source { get; }

    public string MountPoint { get; }

    public string WriteFile(string relative, byte[] content)
    {
        string path = Path.Combine(Source, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, content);
        return path;
    }

    public static byte[] RandomBytes(int size, int seed)
    {
        byte[] data = new byte[size];
        new Random(seed).NextBytes(data);
        return data;
    }

    public void Dispose()
    {
        // A test that failed half way may leave its mount: detach it so the directory can go.
        if (MountTable.IsMountPoint(MountPoint))
        {
            _ = LibC.Umount2(MountPoint, UnmountFlags.Detach);
        }

        Directory.Delete(Root, recursive: true);
    }
}
