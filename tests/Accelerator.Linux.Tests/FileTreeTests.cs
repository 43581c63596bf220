using Accelerator.Testing.Trees;

namespace Accelerator.Linux.Tests;

/// <summary><see cref="FileTree"/>: walks of an image tree list links as links and never descend through them.</summary>
public sealed class FileTreeTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("accel-filetree-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    [Fact]
    public void EnumerateEntries_TreeWithDangerousLinks_ListsEachEntryOnceAndNothingOutside()
    {
        string root = Path.Combine(_work, "tree");
        DangerousLinks.CreateOutside(Path.Combine(_work, "outside"));
        DangerousLinks.Stage(root, Path.Combine(_work, "outside"));

        var listed = FileTree.EnumerateEntries(root).Select(p => Path.GetRelativePath(root, p)).ToList();

        Assert.Equal(DangerousLinks.Paths.Order(StringComparer.Ordinal), listed.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void EnumerateInfos_TreeWithDangerousLinks_LinksCarryTheirTargets()
    {
        string root = Path.Combine(_work, "tree");
        DangerousLinks.Stage(root, "/nonexistent-outside");

        var infos = FileTree.EnumerateInfos(root).ToDictionary(i => Path.GetRelativePath(root, i.FullName), StringComparer.Ordinal);

        Assert.Equal(DangerousLinks.Paths.Order(StringComparer.Ordinal), infos.Keys.Order(StringComparer.Ordinal));
        foreach (var (path, target) in DangerousLinks.Links)
        {
            Assert.Equal(target == DangerousLinks.OutsidePlaceholder ? "/nonexistent-outside" : target, infos[path].LinkTarget);
        }
    }

    [Fact]
    public void DeleteOnOneFileSystem_TreeWithLinks_DeletedWithoutFollowingThem()
    {
        string outside = Directory.CreateDirectory(Path.Combine(_work, "kept")).FullName;
        File.WriteAllText(Path.Combine(outside, "file"), "x");
        string root = Directory.CreateDirectory(Path.Combine(_work, "doomed", "a", "b")).FullName;
        File.WriteAllText(Path.Combine(root, "file"), "x");
        File.CreateSymbolicLink(Path.Combine(root, "to-outside"), outside);

        FileTree.DeleteOnOneFileSystem(Path.Combine(_work, "doomed"));

        Assert.False(Directory.Exists(Path.Combine(_work, "doomed")));
        Assert.True(File.Exists(Path.Combine(outside, "file")));
    }

    [Fact]
    public void DeleteOnOneFileSystem_MountInside_RefusedAndTheMountsContentKept()
    {
        string root = Directory.CreateDirectory(Path.Combine(_work, "with-mount")).FullName;
        string mountPoint = Directory.CreateDirectory(Path.Combine(root, "mnt")).FullName;
        Assert.Equal(0, LibC.Mount("tmpfs", mountPoint, "tmpfs", MountFlags.None, null));
        try
        {
            File.WriteAllText(Path.Combine(mountPoint, "file"), "x");

            Assert.Throws<IOException>(() => FileTree.DeleteOnOneFileSystem(root));
            Assert.True(File.Exists(Path.Combine(mountPoint, "file")));
        }
        finally
        {
            FileSystemMount.Unmount(mountPoint);
        }
    }
}
