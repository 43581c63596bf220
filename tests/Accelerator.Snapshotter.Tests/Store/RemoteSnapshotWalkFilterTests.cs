using Accelerator.Snapshotter.Filters;
using Accelerator.Snapshotter.Metadata;

namespace Accelerator.Snapshotter.Tests.Store;

/// <summary>
/// After a provider answers AlreadyExists, containerd 1.6's metadata store finds the remote snapshot with a Walk filtered
/// by <c>labels."containerd.io/snapshot.ref"==TARGET,parent=="PARENT"</c> (PARENT empty for a first layer); a filter that
/// misses it fails the unpack with "target snapshot … in backend: not found".
/// </summary>
public sealed class RemoteSnapshotWalkFilterTests
{
    private const string ChainId = "sha256:298b154e519454e294097b08578bad607fa1b21c89a049e9c4be51f1d735d317";

    private static SnapshotRecord Committed(string? parent) => new(
        1, ChainId, parent, SnapshotKind.Committed, new Dictionary<string, string> { ["containerd.io/snapshot.ref"] = ChainId }, DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch);

    [Fact]
    public void Matches_ContainerdRemoteSnapshotFilter_FindsFirstLayerWithEmptyParent()
    {
        var filter = SnapshotFilter.Parse([$"labels.\"containerd.io/snapshot.ref\"=={ChainId},parent==\"\""]);

        Assert.True(filter.Matches(Committed(null)));
        Assert.False(filter.Matches(Committed("sha256:" + new string('a', 64))));
    }

    [Fact]
    public void Matches_ContainerdRemoteSnapshotFilter_FindsLayerOnItsParent()
    {
        string parent = "sha256:" + new string('a', 64);
        var filter = SnapshotFilter.Parse([$"labels.\"containerd.io/snapshot.ref\"=={ChainId},parent==\"{parent}\""]);

        Assert.True(filter.Matches(Committed(parent)));
        Assert.False(filter.Matches(Committed(null)));
    }
}
