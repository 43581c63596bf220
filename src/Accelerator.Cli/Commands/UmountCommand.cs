using Accelerator.Linux;
using System.CommandLine;
using Accelerator.Cli.Console;
using Accelerator.Fuse.Takeover;

namespace Accelerator.Cli.Commands;

/// <summary>
/// <c>accel umount MOUNTPOINT</c>: unmounts what <c>accel mount</c> mounted; the serving process then exits. A mount the
/// FUSE holder keeps for a server that is gone (killed, never taken over) is torn down here: the holder forgets it, and
/// the overlay, file system, loop device and FUSE mount its state records are unmounted and detached.
/// </summary>
internal static class UmountCommand
{
    public static Command Create(CliConsole console)
    {
        var mountPoint = new Argument<string>("MOUNTPOINT") { Description = "Where the image is mounted." };
        var holderDirectory = new Option<string?>("--holder-dir") { Description = $"The FUSE holder of 'accel mount --holder-dir' (default: {MountCommand.DefaultHolderDirectory}).", HelpName = "DIR" };
        var command = new Command("umount", "Unmount an image mounted with 'accel mount' (its serving process then cleans up and exits).") { mountPoint, holderDirectory };
        command.SetAction(CommonOptions.Guard(console, async (result, cancellationToken) =>
        {
            string path = Path.GetFullPath(result.GetRequiredValue(mountPoint));
            if (!MountTable.IsMountPoint(path))
            {
                throw new InvalidOperationException($"{path} is not a mount point.");
            }

            string holder = result.GetValue(holderDirectory) is { } h ? Path.GetFullPath(h) : MountCommand.DefaultHolderDirectory;
            if (await FuseMountLease.ForgetOrphanAsync(holder, path, cancellationToken).ConfigureAwait(false) is not { } orphan)
            {
                // Served (or not held): the server sees its mount point go, makes the holder forget it and cleans up.
                FileSystemMount.Unmount(path);
            }
            else
            {
                await TearDownAsync(orphan).ConfigureAwait(false);
            }

            console.WriteLine($"Unmounted {path}.");
            return 0;
        }));
        return command;
    }

    // Upper layers first, as the mounters do (the holder closed its descriptor: the connection has ended, nothing waits).
    private static async Task TearDownAsync(FuseTakeoverState state)
    {
        foreach (string? mount in new[] { state.Overlay, state.FileSystemMount })
        {
            if (mount is not null)
            {
                FileSystemMount.Unmount(mount);
            }
        }

        if (state.LoopDevice is { } loop && state.BackingFile is { } backing && LoopDevice.TryOpenAttached(loop, backing) is not null)
        {
            await LoopDevice.DetachAsync(loop).ConfigureAwait(false);
        }

        FileSystemMount.Unmount(state.FuseMountPoint);
        if (Directory.Exists(state.PrivateDirectory))
        {
            Directory.Delete(state.PrivateDirectory, recursive: true);
        }
    }
}
