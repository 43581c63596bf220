using System.Net.Sockets;
using System.Text.Json.Nodes;
using Accelerator.Containerd.Api.Snapshots;
using Accelerator.Snapshotter.Tests.Support;
using Grpc.Core;

namespace Accelerator.Snapshotter.Tests.Service;

/// <summary>The daemon stopped and started again on its root, a crash between the steps of an operation, and a second daemon.</summary>
public sealed class RestartAndRecoveryTests : IDisposable
{
    private readonly ShortTempDirectory _directory = new();

    private string Root => _directory.Combine("root");

    private string Run => _directory.Combine("run");

    [Fact]
    public async Task Restart_OnSameRoot_KeepsEverySnapshotAndTree()
    {
        string layer, active, view;
        List<Info> before;
        await using (var host = await SnapshotterHost.StartAsync(Root, Run))
        {
            var mounts = (await host.Client.PrepareAsync(Prepare("extract"))).Mounts;
            File.WriteAllText(Path.Combine(mounts[0].Source, "file"), "kept");
            layer = "sha256:" + new string('a', 64);
            await host.Client.CommitAsync(new CommitSnapshotRequest { Name = layer, Key = "extract" });
            active = "container";
            await host.Client.PrepareAsync(Prepare(active, layer, ("label", "value")));
            view = "view";
            await host.Client.ViewAsync(new ViewSnapshotRequest { Key = view, Parent = layer });
            before = await ListAsync(host);
        }

        await using (var again = await SnapshotterHost.StartAsync(Root, Run))
        {
            Assert.Equal(before, await ListAsync(again));
            var mounts = (await again.Client.MountsAsync(new MountsRequest { Key = view })).Mounts;
            Directory.CreateDirectory(_directory.Combine("mnt"));
            using var mounted = SnapshotMounts.Mount(mounts, _directory.Combine("mnt"));
            Assert.Equal("kept", File.ReadAllText(mounted["file"]));
            Assert.Equal("value", (await again.Client.StatAsync(new StatSnapshotRequest { Key = active })).Info.Labels["label"]);
            // New snapshots get new directories, never one a kept snapshot owns.
            var fresh = (await again.Client.PrepareAsync(Prepare("fresh"))).Mounts;
            Assert.DoesNotContain(fresh[0].Source, mounts.SelectMany(m => m.Options).Append(mounts[0].Source));
        }
    }

    [Fact]
    public async Task SecondDaemon_OnSameRoot_RefusedWithClearError()
    {
        await using var first = await SnapshotterHost.StartAsync(Root, Run);

        var error = await Assert.ThrowsAsync<IOException>(() => SnapshotterHost.StartAsync(Root, _directory.Combine("run2")));

        Assert.Contains("Another accel snapshotter is running on", error.Message, StringComparison.Ordinal);
        await first.Client.PrepareAsync(Prepare("still-works"));
    }

    [Fact]
    public async Task SecondDaemon_OnLiveSocket_Refused_StaleSocketReplaced()
    {
        await using (var first = await SnapshotterHost.StartAsync(Root, Run))
        {
            var error = await Assert.ThrowsAsync<IOException>(() => SnapshotterHost.StartAsync(_directory.Combine("root2"), Run));
            Assert.Contains("Another daemon answers on", error.Message, StringComparison.Ordinal);
        }

        // A socket file nobody listens on (a daemon that was killed) is replaced.
        using (var stale = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            stale.Bind(new UnixDomainSocketEndPoint(Path.Combine(Run, "snapshotter.sock")));
        }

        await using var again = await SnapshotterHost.StartAsync(Root, Run);
        await again.Client.PrepareAsync(Prepare("after-stale"));
    }

    [Fact]
    public async Task Recovery_AfterCrashBetweenSteps_LeavesConsistentStore()
    {
        string committedName = "sha256:" + new string('b', 64);
        string metadata = Path.Combine(Root, "metadata");
        string snapshots = Path.Combine(Root, "snapshots");
        await using (var host = await SnapshotterHost.StartAsync(Root, Run))
        {
            await host.Client.PrepareAsync(Prepare("extract"));
            await host.Client.CommitAsync(new CommitSnapshotRequest { Name = committedName, Key = "extract" });
            await host.Client.PrepareAsync(Prepare("lost"));
        }

        var committed = Directory.GetFiles(metadata, "*.json").Select(f => (File: f, Json: JsonNode.Parse(File.ReadAllText(f))!)).ToList();
        var committedRecord = committed.Single(r => (string?)r.Json["name"] == committedName);
        var lostRecord = committed.Single(r => (string?)r.Json["name"] == "lost");
        // 1. A writer that committed by adding a record and crashed before dropping the active one: the same name twice.
        var duplicate = committedRecord.Json.DeepClone();
        duplicate["id"] = 900;
        duplicate["kind"] = "Active";
        File.WriteAllText(Path.Combine(metadata, "900.json"), duplicate.ToJsonString());
        Directory.CreateDirectory(Path.Combine(snapshots, "900", "fs"));
        // 2. A removal that deleted the directory but crashed before deleting the record... cannot happen (record first),
        //    but a lost directory must not leave a record that mounts nothing.
        Directory.Delete(Path.Combine(snapshots, ((long)lostRecord.Json["id"]!).ToString(System.Globalization.CultureInfo.InvariantCulture)), recursive: true);
        // 3. A prepare that crashed after creating its directory, before its record: an orphan, and a half-made one.
        Directory.CreateDirectory(Path.Combine(snapshots, "901", "fs"));
        Directory.CreateDirectory(Path.Combine(snapshots, "new-902", "fs"));
        // 4. An atomic write interrupted before its rename.
        File.WriteAllText(Path.Combine(metadata, ".903.json.0123.tmp"), "{");

        await using var again = await SnapshotterHost.StartAsync(Root, Run);

        var info = (await again.Client.StatAsync(new StatSnapshotRequest { Key = committedName })).Info;
        Assert.Equal(Kind.Committed, info.Kind);
        var names = (await ListAsync(again)).Select(i => i.Name).ToList();
        Assert.Equal([committedName], names);
        Assert.Equal([((long)committedRecord.Json["id"]!).ToString(System.Globalization.CultureInfo.InvariantCulture)], Directory.GetDirectories(snapshots).Select(Path.GetFileName));
        Assert.Equal([Path.GetFileName(committedRecord.File)], Directory.GetFiles(metadata).Select(Path.GetFileName));
        await again.Client.PrepareAsync(Prepare("lost"));
        await again.Client.PrepareAsync(Prepare("child", committedName));
    }

    public void Dispose() => _directory.Dispose();

    private static PrepareSnapshotRequest Prepare(string key, string parent = "", params (string Key, string Value)[] labels)
    {
        var request = new PrepareSnapshotRequest { Key = key, Parent = parent };
        foreach (var (k, v) in labels)
        {
            request.Labels[k] = v;
        }

        return request;
    }

    private static async Task<List<Info>> ListAsync(SnapshotterHost host)
    {
        using var call = host.Client.List(new ListSnapshotsRequest());
        var infos = new List<Info>();
        await foreach (var response in call.ResponseStream.ReadAllAsync())
        {
            infos.AddRange(response.Info);
        }

        return infos;
    }
}
