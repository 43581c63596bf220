using System.Security.Cryptography;
using Accelerator.Linux;
using Accelerator.Oci.Layers;

namespace Accelerator.Oci.Tests.Layers;

/// <summary>A temporary directory holding <c>root</c> (the unpack target) and <c>sentinel</c> (must never change).</summary>
internal sealed class LayerTestDirectory : IDisposable
{
    private readonly string _sentinelSnapshot;

    public LayerTestDirectory()
    {
        Base = Path.Combine(Path.GetTempPath(), "accel-layers-" + Guid.NewGuid().ToString("N"));
        Root = Path.Combine(Base, "root");
        Sentinel = Path.Combine(Base, "sentinel");
        Directory.CreateDirectory(Root);
        Directory.CreateDirectory(Path.Combine(Sentinel, "sub"));
        File.WriteAllText(Path.Combine(Sentinel, "file"), "sentinel content");
        File.WriteAllText(Path.Combine(Sentinel, "sub", "inner"), "inner content");
        _sentinelSnapshot = Snapshot(Sentinel);
    }

    public string Base { get; }

    public string Root { get; }

    public string Sentinel { get; }

    public string InRoot(string relative) => Path.Combine(Root, relative);

    public Task<LayerApplyReport> ApplyAsync(byte[] layer, LayerApplyOptions? options = null) =>
        LayerApplier.ApplyAsync(new MemoryStream(layer), null, Root, options);

    /// <summary>Asserts the sentinel is byte-for-byte as it was and nothing new appeared beside the root.</summary>
    public void AssertOutsideUnchanged()
    {
        Assert.Equal(_sentinelSnapshot, Snapshot(Sentinel));
        Assert.Equal(new[] { "root", "sentinel" }, Directory.EnumerateFileSystemEntries(Base).Select(p => Path.GetFileName(p)!).Order(StringComparer.Ordinal).ToArray());
    }

    // Every entry under a directory with type, mode, owner, size, mtime and a content hash.
    private static string Snapshot(string directory)
    {
        var lines = new List<string>();
        void Walk(string path, string relative)
        {
            FileStatus status = LibC.Lstat(LibC.AT_FDCWD, path) ?? throw new InvalidOperationException(path);
            string hash = status.Type == LibC.S_IFREG ? Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path))) : string.Empty;
            lines.Add($"{relative} {status.Mode:X} {status.Uid}:{status.Gid} {status.Size} {status.MtimeSeconds}.{status.MtimeNanoseconds} {status.Nlink} {hash}");
            if (status.IsDirectory)
            {
                foreach (string child in Directory.EnumerateFileSystemEntries(path).Order(StringComparer.Ordinal))
                {
                    Walk(child, relative + "/" + Path.GetFileName(child));
                }
            }
        }

        Walk(directory, ".");
        return string.Join('\n', lines);
    }

    public static FileStatus Stat(string path) => LibC.Lstat(LibC.AT_FDCWD, path) ?? throw new FileNotFoundException(path);

    public static byte[]? GetXattr(string path, string name) => LibC.GetXattr(path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Base, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
