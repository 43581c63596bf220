using Accelerator.Linux;
using System.CommandLine;
using Accelerator.Cli.Console;
using Accelerator.Lazy.Mounting;

namespace Accelerator.Cli.Commands;

/// <summary><c>accel umount MOUNTPOINT</c>: unmounts what <c>accel mount</c> mounted; the serving process then exits.</summary>
internal static class UmountCommand
{
    public static Command Create(CliConsole console)
    {
        var mountPoint = new Argument<string>("MOUNTPOINT") { Description = "Where the image is mounted." };
        var command = new Command("umount", "Unmount an image mounted with 'accel mount' (its serving process then cleans up and exits).") { mountPoint };
        command.SetAction(CommonOptions.Guard(console, (result, _) =>
        {
            string path = Path.GetFullPath(result.GetRequiredValue(mountPoint));
            if (!MountTable.IsMountPoint(path))
            {
                throw new InvalidOperationException($"{path} is not a mount point.");
            }

            FileSystemMount.Unmount(Path.GetFullPath(path));
            console.WriteLine($"Unmounted {path}.");
            return Task.FromResult(0);
        }));
        return command;
    }
}
