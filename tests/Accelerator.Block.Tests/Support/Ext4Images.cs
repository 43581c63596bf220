namespace Accelerator.Block.Tests.Support;

/// <summary>
/// Raw ext4 images of directories, made with <c>mke2fs -d</c> (e2fsprogs), the stand-in for a block image. mke2fs adds
/// <c>lost+found</c> and stamps the root with the current time; both are undone with debugfs so the image holds the
/// source tree and nothing else (e2fsck is clean without lost+found). mke2fs 1.47.0 copies whole seconds of mtimes only.
/// </summary>
internal static class Ext4Images
{
    public static async Task<string> BuildAsync(string sourceDirectory, string imagePath)
    {
        long bytes = 0;
        int entries = 0;
        foreach (var entry in new DirectoryInfo(sourceDirectory).EnumerateFileSystemInfos("*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }))
        {
            entries++;
            if (entry is FileInfo { LinkTarget: null } file)
            {
                bytes += (file.Length + 4095) / 4096 * 4096;
            }
        }

        long size = ((bytes * 5 / 4) + (64L << 20) + ((long)entries * 8192)) / (1 << 20);
        await Tool.CheckAsync("mke2fs", "-q", "-F", "-t", "ext4", "-b", "4096", "-I", "256", "-N", (entries + 2048).ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-d", sourceDirectory, imagePath, size + "M");
        long rootTime = new DateTimeOffset(Directory.GetLastWriteTimeUtc(sourceDirectory)).ToUnixTimeSeconds();
        await Tool.CheckAsync("debugfs", "-w", "-R", "rmdir lost+found", imagePath);
        await Tool.CheckAsync("debugfs", "-w", "-R", $"sif / mtime @{rootTime}", imagePath);
        return imagePath;
    }
}
