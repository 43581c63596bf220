using Accelerator.Containerd.Api.Types;
using Accelerator.Linux;

namespace Accelerator.Snapshotter.Tests.Support;

/// <summary>Mounts what the snapshotter answers, the way containerd's mount package does, for real.</summary>
internal sealed class SnapshotMounts : IDisposable
{
    private SnapshotMounts(string target) => Target = target;

    public string Target { get; }

    public static SnapshotMounts Mount(IEnumerable<Mount> mounts, string parent)
    {
        string target = Path.Combine(parent, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(target);
        var mounted = new SnapshotMounts(target);
        foreach (var mount in mounts)
        {
            if (mount.Type == "bind")
            {
                if (mount.Options.Contains("ro"))
                {
                    FileSystemMount.BindReadOnly(mount.Source, target);
                }
                else
                {
                    FileSystemMount.Mount(mount.Source, target, "", MountFlags.Bind, null);
                }
            }
            else
            {
                FileSystemMount.Mount(mount.Source, target, mount.Type, MountFlags.None, string.Join(',', mount.Options));
            }
        }

        return mounted;
    }

    public string this[string relative] => Path.Combine(Target, relative);

    public void Dispose()
    {
        FileSystemMount.Unmount(Target);
        Directory.Delete(Target);
    }
}
