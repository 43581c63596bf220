using Accelerator.Snapshots.Interop;

namespace Accelerator.Snapshots.Storage;

/// <summary>Whole-file writes that are either complete on disk or absent: temp file, fsync, rename, fsync directory.</summary>
internal static class DurableFile
{
    public static void Write(string path, ReadOnlySpan<byte> content)
    {
        string directory = Path.GetDirectoryName(path)!;
        string temporary = Path.Combine(directory, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                stream.Write(content);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
            LibC.FsyncDirectory(directory);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }
}
