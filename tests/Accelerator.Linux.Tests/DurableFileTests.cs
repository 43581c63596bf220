namespace Accelerator.Linux.Tests;

/// <summary><see cref="DurableFile"/>: atomic replacement and the directory fsyncs (O_DIRECTORY of this architecture).</summary>
public sealed class DurableFileTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("accel-durable-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    [Fact]
    public void WriteAtomic_NewAndExisting_WholeContentAndNoTemporaryFileLeft()
    {
        string path = Path.Combine(_work, "record.json");

        DurableFile.WriteAtomic(path, "first"u8);
        DurableFile.WriteAtomic(path, "second, longer"u8);

        Assert.Equal("second, longer", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFiles(_work));
    }

    [Fact]
    public void WriteAtomic_RelativePath_WrittenInTheWorkingDirectorysSubdirectory()
    {
        string name = Path.GetRelativePath(Environment.CurrentDirectory, Path.Combine(_work, "relative"));

        DurableFile.WriteAtomic(name, "x"u8);

        Assert.Equal("x", File.ReadAllText(Path.Combine(_work, "relative")));
    }

    [Fact]
    public void WriteAtomic_MissingDirectory_ThrowsAndLeavesNothing()
    {
        string path = Path.Combine(_work, "missing", "record.json");

        Assert.ThrowsAny<IOException>(() => DurableFile.WriteAtomic(path, "x"u8));
        Assert.Empty(Directory.GetFileSystemEntries(_work));
    }

    [Fact]
    public void SyncDirectoryAndFileSystem_Directory_Succeed()
    {
        DurableFile.SyncDirectory(_work);
        DurableFile.SyncFileSystem(_work);
    }

    [Fact]
    public void SyncDirectory_File_RefusedWithEnotdir()
    {
        // Opened with O_DIRECTORY: x86-64's number for it means O_DIRECT on arm64, which a file would accept.
        string file = Path.Combine(_work, "file");
        File.WriteAllText(file, "x");

        var error = Assert.Throws<IOException>(() => DurableFile.SyncDirectory(file));

        Assert.Equal(Errno.ENOTDIR, error.HResult);
    }
}
