using Accelerator.Snapshots;
using Accelerator.Testing.Host;

namespace Accelerator.Snapshots.Tests.Issues;

/// <summary>
/// Issue 12, B13: the snapshot store (unpacked layers with set-user-ID files and devices, the upper directories of
/// live clones) was created 0755, so any local user could walk to an image's set-user-ID programs. Its root is now
/// 0700, created so and tightened when an older version left it open.
/// </summary>
public sealed class Issue12_SnapshotStorePermissionsTests : IDisposable
{
    private const UnixFileMode PrivateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private readonly string _base = UnprivilegedUser.CreateTraversableDirectory("accel-issue12-snapshots-");

    public void Dispose() => Directory.Delete(_base, recursive: true);

    [Fact]
    public async Task Open_NewStore_RootIs0700AndNobodyCannotEnterIt()
    {
        string root = Path.Combine(_base, "store");
        string probe = Path.Combine(root, "layers", "probe");

        SnapshotStore.Open(new SnapshotStoreOptions { Root = root });
        await File.WriteAllTextAsync(probe, "inside the store");

        Assert.Equal(PrivateMode, File.GetUnixFileMode(root));
        Assert.False(await UnprivilegedUser.CanReadAsync(probe));
    }

    [Fact]
    public void Open_StoreLeft0755ByAnOlderVersion_TightensItTo0700()
    {
        string root = Directory.CreateDirectory(Path.Combine(_base, "old")).FullName;
        File.SetUnixFileMode(root, (UnixFileMode)0x1ED);

        SnapshotStore.Open(new SnapshotStoreOptions { Root = root });

        Assert.Equal(PrivateMode, File.GetUnixFileMode(root));
    }
}
