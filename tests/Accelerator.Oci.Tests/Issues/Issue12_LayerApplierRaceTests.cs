using System.Runtime.InteropServices;
using Accelerator.Oci.Layers;
using Accelerator.Oci.Tests.Layers;
using Accelerator.Testing.Tar;

namespace Accelerator.Oci.Tests.Issues;

/// <summary>
/// Issue 12, B14: the applier looked at a name (lstat) and then changed it by name with calls that follow symbolic
/// links (fchmodat without AT_SYMLINK_NOFOLLOW). A process that swaps the directory or file for a symbolic link to an
/// outside directory between the two calls got the outside directory's mode changed. A racer thread swaps names for
/// symbolic links to the sentinel (outside the root) with renameat2(RENAME_EXCHANGE) while layers are applied; the
/// applier may fail, but nothing outside the root may change.
/// </summary>
public sealed class Issue12_LayerApplierRaceTests
{
    private const uint RenameExchange = 2; // RENAME_EXCHANGE, linux/fs.h

    [Fact]
    public async Task ApplyAsync_NameSwappedForOutsideSymlinkDuringExtraction_OutsideUnchanged()
    {
        using var directory = new LayerTestDirectory();
        string sentinelFile = Path.Combine(directory.Sentinel, "file");
        var builder = new TarBuilder();
        for (int i = 0; i < 4; i++)
        {
            // Modes unlike the sentinel's (0755 directories, 0644 files), owners unlike root, times unlike now.
            builder.AddDirectory("d", (UnixFileMode)0x1FF /* 0777 */, uid: 4321, gid: 4321, modificationTime: 1_000_000_000);
            builder.AddFile("f", "racer"u8.ToArray(), (UnixFileMode)0xFFF /* 07777 */, uid: 4321, gid: 4321);
        }

        byte[] layer = builder.ToArray();
        using var stop = new CancellationTokenSource();
        long swaps = 0;
        var racer = Task.Run(() =>
        {
            string d = directory.InRoot("d"), dLink = directory.InRoot("d-link");
            string f = directory.InRoot("f"), fLink = directory.InRoot("f-link");
            while (!stop.IsCancellationRequested)
            {
                // The applier removes a symbolic link it finds at a name; put the links back each round.
                TrySymlink(directory.Sentinel, dLink);
                TrySymlink(sentinelFile, fLink);
                if (RenameAt2(-100, d, -100, dLink, RenameExchange) == 0)
                {
                    Interlocked.Increment(ref swaps);
                }

                if (RenameAt2(-100, f, -100, fLink, RenameExchange) == 0)
                {
                    Interlocked.Increment(ref swaps);
                }
            }
        });

        try
        {
            for (int iteration = 0; iteration < 3000; iteration++)
            {
                try
                {
                    await directory.ApplyAsync(layer, new LayerApplyOptions { PreserveOwnership = true });
                }
                catch (IOException)
                {
                    // A name that changed under the applier is a clean failure; what matters is the outside.
                }
            }
        }
        finally
        {
            await stop.CancelAsync();
            await racer;
        }

        Assert.True(Interlocked.Read(ref swaps) > 0, "The racer never swapped a name.");
        directory.AssertOutsideUnchanged();
    }

    private static void TrySymlink(string target, string path)
    {
        try
        {
            File.CreateSymbolicLink(path, target);
        }
        catch (IOException)
        {
        }
    }

    [DllImport("libc", EntryPoint = "renameat2", SetLastError = true)]
    private static extern int RenameAt2(int olddirfd, string oldpath, int newdirfd, string newpath, uint flags);
}
