using System.Text;
using Accelerator.Containerd.Api.Snapshots;
using SnapshotsApi = Accelerator.Containerd.Api.Snapshots.Snapshots;
using Accelerator.Containerd.Api.Types;
using Accelerator.Snapshotter.Tests.Support;
using Google.Protobuf.Collections;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace Accelerator.Snapshotter.Tests.Service;

/// <summary>
/// containerd's snapshotter semantics over the real gRPC API (a Grpc.Net.Client on the daemon's unix socket), the cases
/// containerd's own snapshotter test suite checks, with the returned mounts mounted for real.
/// </summary>
public sealed class SnapshotsConformanceTests(SnapshotterFixture fixture) : IClassFixture<SnapshotterFixture>
{
    private SnapshotsApi.SnapshotsClient Client => fixture.Client;

    [Fact]
    public async Task Prepare_WithoutParent_AnswersWritableBindOfItsOwnTree()
    {
        string key = SnapshotterFixture.Key("base");
        var mounts = await PrepareAsync(key);

        var mount = Assert.Single(mounts);
        Assert.Equal("bind", mount.Type);
        Assert.Equal(["rw", "rbind"], mount.Options);
        Assert.StartsWith(Path.Combine(fixture.Root, "snapshots") + "/", mount.Source, StringComparison.Ordinal);
        Assert.EndsWith("/fs", mount.Source, StringComparison.Ordinal);
        Assert.DoesNotContain(key, mount.Source, StringComparison.Ordinal);
        var info = (await Client.StatAsync(new StatSnapshotRequest { Key = key })).Info;
        Assert.Equal(Kind.Active, info.Kind);
        Assert.Equal("", info.Parent);
    }

    [Fact]
    public async Task PrepareCommitChain_ViewShowsEveryLayer_NearestWins()
    {
        string first = await CommitLayerAsync(null, root =>
        {
            File.WriteAllText(Path.Combine(root, "a"), "a1");
            File.WriteAllText(Path.Combine(root, "b"), "b1");
        });
        string second = await CommitLayerAsync(first, root => File.WriteAllText(Path.Combine(root, "b"), "b2"));
        string third = await CommitLayerAsync(second, root =>
        {
            Directory.CreateDirectory(Path.Combine(root, "d"));
            File.WriteAllText(Path.Combine(root, "d", "c"), "c3");
        });

        string view = SnapshotterFixture.Key("view");
        var mounts = (await Client.ViewAsync(new ViewSnapshotRequest { Key = view, Parent = third })).Mounts;

        var mount = Assert.Single(mounts);
        Assert.Equal("overlay", mount.Type);
        Assert.DoesNotContain(mount.Options, o => o.StartsWith("upperdir=", StringComparison.Ordinal) || o.StartsWith("workdir=", StringComparison.Ordinal));
        using var mounted = SnapshotMounts.Mount(mounts, fixture.MountsDirectory);
        Assert.Equal("a1", File.ReadAllText(mounted["a"]));
        Assert.Equal("b2", File.ReadAllText(mounted["b"]));
        Assert.Equal("c3", File.ReadAllText(mounted["d/c"]));
        var info = (await Client.StatAsync(new StatSnapshotRequest { Key = view })).Info;
        Assert.Equal(Kind.View, info.Kind);
        Assert.Equal(third, info.Parent);
    }

    [Fact]
    public async Task Prepare_OnParents_AnswersOverlayInContainerdsOptionOrder()
    {
        string first = await CommitLayerAsync(null, root => File.WriteAllText(Path.Combine(root, "x"), "1"));
        string second = await CommitLayerAsync(first, root => File.WriteAllText(Path.Combine(root, "y"), "2"));
        string key = SnapshotterFixture.Key("active");

        var mounts = await PrepareAsync(key, second);
        var again = (await Client.MountsAsync(new MountsRequest { Key = key })).Mounts;

        var mount = Assert.Single(mounts);
        Assert.Equal(("overlay", "overlay"), (mount.Type, mount.Source));
        var options = mount.Options.Where(o => o != "index=off").ToList();
        Assert.Equal(Path.Exists("/sys/module/overlay/parameters/index"), mount.Options.Contains("index=off"));
        Assert.Equal(3, options.Count);
        Assert.StartsWith("workdir=", options[0], StringComparison.Ordinal);
        Assert.StartsWith("upperdir=", options[1], StringComparison.Ordinal);
        string[] lower = options[2]["lowerdir=".Length..].Split(':');
        Assert.Equal(2, lower.Length);
        Assert.Equal(mounts, again);
        using var mounted = SnapshotMounts.Mount(mounts, fixture.MountsDirectory);
        File.WriteAllText(mounted["z"], "3");
        Assert.Equal("1", File.ReadAllText(mounted["x"]));
        Assert.Equal("2", File.ReadAllText(mounted["y"]));
        // The write went to this snapshot's own tree (upperdir), not to a parent.
        Assert.True(File.Exists(Path.Combine(options[1]["upperdir=".Length..], "z")));
        Assert.False(File.Exists(Path.Combine(lower[0], "z")));
    }

    [Fact]
    public async Task ChildDeletesFileAndReplacesDirectory_ViewHidesThem()
    {
        string first = await CommitLayerAsync(null, root =>
        {
            File.WriteAllText(Path.Combine(root, "gone"), "x");
            File.WriteAllText(Path.Combine(root, "kept"), "k");
            Directory.CreateDirectory(Path.Combine(root, "dir"));
            File.WriteAllText(Path.Combine(root, "dir", "old"), "o");
        });
        string second = await CommitLayerAsync(first, root =>
        {
            // Through the overlay: a deletion becomes a whiteout, a directory made anew an opaque directory.
            File.Delete(Path.Combine(root, "gone"));
            Directory.Delete(Path.Combine(root, "dir"), recursive: true);
            Directory.CreateDirectory(Path.Combine(root, "dir"));
            File.WriteAllText(Path.Combine(root, "dir", "new"), "n");
        });
        string third = await CommitLayerAsync(second, root => File.WriteAllText(Path.Combine(root, "later"), "l"));

        var mounts = (await Client.ViewAsync(new ViewSnapshotRequest { Key = SnapshotterFixture.Key("view"), Parent = third })).Mounts;

        using var mounted = SnapshotMounts.Mount(mounts, fixture.MountsDirectory);
        Assert.False(File.Exists(mounted["gone"]));
        Assert.Equal("k", File.ReadAllText(mounted["kept"]));
        Assert.Equal(["new"], Directory.GetFileSystemEntries(mounted["dir"]).Select(Path.GetFileName));
        Assert.Equal("l", File.ReadAllText(mounted["later"]));
    }

    [Fact]
    public async Task View_IsReadOnly_OneParentBindAndSeveralParentsOverlay()
    {
        string first = await CommitLayerAsync(null, root => File.WriteAllText(Path.Combine(root, "f"), "1"));
        string second = await CommitLayerAsync(first, root => File.WriteAllText(Path.Combine(root, "g"), "2"));

        var single = (await Client.ViewAsync(new ViewSnapshotRequest { Key = SnapshotterFixture.Key("v1"), Parent = first })).Mounts;
        var several = (await Client.ViewAsync(new ViewSnapshotRequest { Key = SnapshotterFixture.Key("v2"), Parent = second })).Mounts;

        Assert.Equal("bind", Assert.Single(single).Type);
        Assert.Equal(["ro", "rbind"], single[0].Options);
        Assert.Equal("overlay", Assert.Single(several).Type);
        foreach (var mounts in new[] { single, several })
        {
            using var mounted = SnapshotMounts.Mount(mounts, fixture.MountsDirectory);
            Assert.Equal("1", File.ReadAllText(mounted["f"]));
            var error = Record.Exception(() => File.WriteAllText(mounted["new"], "x"));
            Assert.True(error is IOException or UnauthorizedAccessException, error?.ToString() ?? "the write succeeded");
        }
    }

    [Fact]
    public async Task Commit_OfViewOrUnknownKeyOrToTakenName_RefusedAndNothingChanges()
    {
        string parent = await CommitLayerAsync(null, _ => { });
        string view = SnapshotterFixture.Key("view");
        await Client.ViewAsync(new ViewSnapshotRequest { Key = view, Parent = parent });
        string active = SnapshotterFixture.Key("active");
        await PrepareAsync(active, parent);

        await AssertStatusAsync(StatusCode.FailedPrecondition, () => Client.CommitAsync(new CommitSnapshotRequest { Name = SnapshotterFixture.Key("n"), Key = view }).ResponseAsync);
        await AssertStatusAsync(StatusCode.NotFound, () => Client.CommitAsync(new CommitSnapshotRequest { Name = SnapshotterFixture.Key("n"), Key = SnapshotterFixture.Key("missing") }).ResponseAsync);
        await AssertStatusAsync(StatusCode.AlreadyExists, () => Client.CommitAsync(new CommitSnapshotRequest { Name = parent, Key = active }).ResponseAsync);

        Assert.Equal(Kind.View, (await Client.StatAsync(new StatSnapshotRequest { Key = view })).Info.Kind);
        Assert.Equal(Kind.Active, (await Client.StatAsync(new StatSnapshotRequest { Key = active })).Info.Kind);
    }

    [Fact]
    public async Task Commit_KeyGoesAway_NameIsCommittedWithCommitLabels()
    {
        string key = SnapshotterFixture.Key("active");
        await PrepareAsync(key, labels: new() { ["on-prepare"] = "p" });
        string name = SnapshotterFixture.Key("committed");
        var commit = new CommitSnapshotRequest { Name = name, Key = key };
        commit.Labels.Add("on-commit", "c");
        await Client.CommitAsync(commit);

        await AssertStatusAsync(StatusCode.NotFound, () => Client.StatAsync(new StatSnapshotRequest { Key = key }).ResponseAsync);
        var info = (await Client.StatAsync(new StatSnapshotRequest { Key = name })).Info;
        Assert.Equal(Kind.Committed, info.Kind);
        Assert.Equal(new Dictionary<string, string> { ["on-commit"] = "c" }, info.Labels);
    }

    [Fact]
    public async Task SameKeyTwice_AlreadyExists_ForPrepareAndView()
    {
        string parent = await CommitLayerAsync(null, _ => { });
        string key = SnapshotterFixture.Key("twice");
        await PrepareAsync(key);

        await AssertStatusAsync(StatusCode.AlreadyExists, () => Client.PrepareAsync(new PrepareSnapshotRequest { Key = key }).ResponseAsync);
        await AssertStatusAsync(StatusCode.AlreadyExists, () => Client.ViewAsync(new ViewSnapshotRequest { Key = key, Parent = parent }).ResponseAsync);
        await AssertStatusAsync(StatusCode.AlreadyExists, () => Client.PrepareAsync(new PrepareSnapshotRequest { Key = parent }).ResponseAsync);
    }

    [Fact]
    public async Task Parent_MissingOrNotCommitted_Refused()
    {
        string active = SnapshotterFixture.Key("active");
        await PrepareAsync(active);

        await AssertStatusAsync(StatusCode.NotFound, () => Client.PrepareAsync(new PrepareSnapshotRequest { Key = SnapshotterFixture.Key("k"), Parent = SnapshotterFixture.Key("nothing") }).ResponseAsync);
        await AssertStatusAsync(StatusCode.FailedPrecondition, () => Client.PrepareAsync(new PrepareSnapshotRequest { Key = SnapshotterFixture.Key("k"), Parent = active }).ResponseAsync);
        await AssertStatusAsync(StatusCode.FailedPrecondition, () => Client.ViewAsync(new ViewSnapshotRequest { Key = SnapshotterFixture.Key("k"), Parent = active }).ResponseAsync);
    }

    [Fact]
    public async Task Remove_WithChildrenRefused_ThenChildThenParent()
    {
        string first = await CommitLayerAsync(null, _ => { });
        string second = await CommitLayerAsync(first, _ => { });
        string child = SnapshotterFixture.Key("child");
        var mounts = await PrepareAsync(child, second);
        string upper = Assert.Single(mounts).Options.Single(o => o.StartsWith("upperdir=", StringComparison.Ordinal))["upperdir=".Length..];

        await AssertStatusAsync(StatusCode.FailedPrecondition, () => Client.RemoveAsync(new RemoveSnapshotRequest { Key = first }).ResponseAsync);
        await AssertStatusAsync(StatusCode.FailedPrecondition, () => Client.RemoveAsync(new RemoveSnapshotRequest { Key = second }).ResponseAsync);
        Assert.Equal(Kind.Committed, (await Client.StatAsync(new StatSnapshotRequest { Key = second })).Info.Kind);

        await Client.RemoveAsync(new RemoveSnapshotRequest { Key = child });
        Assert.False(Directory.Exists(Path.GetDirectoryName(upper)));
        await Client.RemoveAsync(new RemoveSnapshotRequest { Key = second });
        await Client.RemoveAsync(new RemoveSnapshotRequest { Key = first });
        await AssertStatusAsync(StatusCode.NotFound, () => Client.StatAsync(new StatSnapshotRequest { Key = first }).ResponseAsync);
        await AssertStatusAsync(StatusCode.NotFound, () => Client.RemoveAsync(new RemoveSnapshotRequest { Key = first }).ResponseAsync);
    }

    [Fact]
    public async Task Update_WithMasks_ChangesOnlyLabels()
    {
        string key = SnapshotterFixture.Key("labels");
        await PrepareAsync(key, labels: new() { ["a"] = "1", ["b"] = "2" });

        var one = await UpdateAsync(key, new() { ["a"] = "10", ["c"] = "ignored" }, "labels.a");
        Assert.Equal(new Dictionary<string, string> { ["a"] = "10", ["b"] = "2" }, one.Labels);
        var removed = await UpdateAsync(key, new(), "labels.b");
        Assert.Equal(new Dictionary<string, string> { ["a"] = "10" }, removed.Labels);
        var all = await UpdateAsync(key, new() { ["x"] = "y" }, "labels");
        Assert.Equal(new Dictionary<string, string> { ["x"] = "y" }, all.Labels);
        var noMask = await UpdateAsync(key, new() { ["m"] = "n" });
        Assert.Equal(new Dictionary<string, string> { ["m"] = "n" }, noMask.Labels);
        Assert.True(noMask.UpdatedAt.ToDateTimeOffset() >= noMask.CreatedAt.ToDateTimeOffset());
        Assert.Equal(noMask.Labels, (await Client.StatAsync(new StatSnapshotRequest { Key = key })).Info.Labels);

        await AssertStatusAsync(StatusCode.InvalidArgument, () => UpdateAsync(key, new(), "name"));
        await AssertStatusAsync(StatusCode.InvalidArgument, () => UpdateAsync(key, new(), "parent"));
        await AssertStatusAsync(StatusCode.InvalidArgument, () => UpdateAsync(key, new(), "kind"));
        await AssertStatusAsync(StatusCode.NotFound, () => UpdateAsync(SnapshotterFixture.Key("missing"), new(), "labels"));
        Assert.Equal(noMask.Labels, (await Client.StatAsync(new StatSnapshotRequest { Key = key })).Info.Labels);
    }

    [Fact]
    public async Task BadInput_OversizedKeyOrLabels_InvalidArgumentAndNothingCreated()
    {
        string longKey = new('k', 4097);
        string key = SnapshotterFixture.Key("bounded");

        await AssertStatusAsync(StatusCode.InvalidArgument, () => Client.PrepareAsync(new PrepareSnapshotRequest { Key = longKey }).ResponseAsync);
        await AssertStatusAsync(StatusCode.InvalidArgument, () => Client.PrepareAsync(new PrepareSnapshotRequest { Key = "" }).ResponseAsync);
        await AssertStatusAsync(StatusCode.InvalidArgument, () => PrepareAsync(key, labels: new() { ["big"] = new string('v', 4094) }));
        await AssertStatusAsync(StatusCode.InvalidArgument, () => PrepareAsync(key, labels: Enumerable.Range(0, 300).ToDictionary(i => $"l{i}", i => "v")));
        await AssertStatusAsync(StatusCode.NotFound, () => Client.StatAsync(new StatSnapshotRequest { Key = key }).ResponseAsync);

        // At the bound exactly: accepted (key and value together 4096 bytes, as containerd counts).
        await PrepareAsync(key, labels: new() { ["big"] = new string('v', 4093) });
        await AssertStatusAsync(StatusCode.InvalidArgument, () => UpdateAsync(key, new() { ["big"] = new string('v', 4094) }, "labels.big"));
        Assert.Equal(4093, (await Client.StatAsync(new StatSnapshotRequest { Key = key })).Info.Labels["big"].Length);
    }

    [Fact]
    public async Task Usage_ActiveMeasuredNow_CommittedKeptFromCommit()
    {
        string key = SnapshotterFixture.Key("usage");
        var mounts = await PrepareAsync(key);
        var empty = await Client.UsageAsync(new UsageRequest { Key = key });
        File.WriteAllBytes(Path.Combine(mounts[0].Source, "data"), new byte[1 << 20]);
        Directory.CreateDirectory(Path.Combine(mounts[0].Source, "d"));
        var full = await Client.UsageAsync(new UsageRequest { Key = key });
        string name = SnapshotterFixture.Key("committed");
        await Client.CommitAsync(new CommitSnapshotRequest { Name = name, Key = key });
        var committed = await Client.UsageAsync(new UsageRequest { Key = name });

        Assert.Equal(1, empty.Inodes);
        Assert.Equal(3, full.Inodes);
        Assert.True(full.Size >= (1 << 20), $"size {full.Size}");
        Assert.Equal(full.Inodes, committed.Inodes);
        Assert.Equal(full.Size, committed.Size);
        await AssertStatusAsync(StatusCode.NotFound, () => Client.UsageAsync(new UsageRequest { Key = key }).ResponseAsync);
    }

    [Fact]
    public async Task List_WithContainerdFilters()
    {
        string tag = Guid.NewGuid().ToString("N");
        string first = await CommitLayerAsync(null, _ => { }, new() { ["test.tag"] = tag, ["layer"] = "first" });
        string second = await CommitLayerAsync(first, _ => { }, new() { ["test.tag"] = tag, ["layer"] = "second", ["extra"] = "yes" });
        string active = SnapshotterFixture.Key("active");
        await PrepareAsync(active, second, new() { ["test.tag"] = tag });
        string scope = $"labels.\"test.tag\"=={tag}";

        Assert.Equal(new[] { first, second, active }.Order(StringComparer.Ordinal), (await ListAsync(scope)).Order(StringComparer.Ordinal));
        Assert.Equal([active], await ListAsync(scope + ",kind==active"));
        Assert.Equal(new[] { first, second }.Order(StringComparer.Ordinal), (await ListAsync(scope + ",kind==committed")).Order(StringComparer.Ordinal));
        Assert.Equal([second], await ListAsync(scope + ",parent==" + first));
        Assert.Equal([first], await ListAsync($"{scope},name==\"{first}\""));
        Assert.Equal([second], await ListAsync(scope + ",labels.extra"));
        Assert.Equal([second], await ListAsync(scope + ",labels.layer~=^sec"));
        Assert.Equal([second], await ListAsync(scope + ",labels.layer~=/ec.n/"));
        Assert.Equal(new[] { second, active }.Order(StringComparer.Ordinal), (await ListAsync(scope + ",labels.layer!=first")).Order(StringComparer.Ordinal));
        // Several filters: any may match.
        Assert.Equal(new[] { first, active }.Order(StringComparer.Ordinal), (await ListAsync(scope + ",labels.layer==first", scope + ",kind==active")).Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("kind==")]
    [InlineData("labels.a~=(")]
    [InlineData("==x")]
    [InlineData("name=x")]
    [InlineData("name==\"unterminated")]
    [InlineData("name==a,")]
    public async Task List_InvalidFilter_InvalidArgument(string filter)
        => await AssertStatusAsync(StatusCode.InvalidArgument, () => ListAsync(filter));

    [Fact]
    public async Task DeepChain_OfSeventyLayers_MountsWithEveryLayer()
    {
        const int Depth = 70;
        string? parent = null;
        for (int i = 0; i < Depth; i++)
        {
            int layer = i;
            parent = await CommitLayerAsync(parent, root => File.WriteAllText(Path.Combine(root, $"layer-{layer}"), layer.ToString(System.Globalization.CultureInfo.InvariantCulture)), mountToWrite: false);
        }

        var mounts = (await Client.ViewAsync(new ViewSnapshotRequest { Key = SnapshotterFixture.Key("deep"), Parent = parent })).Mounts;

        string lower = Assert.Single(mounts).Options.Single(o => o.StartsWith("lowerdir=", StringComparison.Ordinal));
        Assert.Equal(Depth, lower.Split(':').Length);
        Assert.True(Encoding.UTF8.GetByteCount(string.Join(',', mounts[0].Options)) < 4096);
        using var mounted = SnapshotMounts.Mount(mounts, fixture.MountsDirectory);
        for (int i = 0; i < Depth; i++)
        {
            Assert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), File.ReadAllText(mounted[$"layer-{i}"]));
        }
    }

    [Fact]
    public async Task Cleanup_RemovesDirectoriesNoSnapshotOwns()
    {
        string key = SnapshotterFixture.Key("owned");
        var mounts = await PrepareAsync(key);
        string orphan = Path.Combine(fixture.Root, "snapshots", "987654321");
        Directory.CreateDirectory(Path.Combine(orphan, "fs"));
        File.WriteAllText(Path.Combine(orphan, "fs", "file"), "x");

        await Client.CleanupAsync(new CleanupRequest());

        Assert.False(Directory.Exists(orphan));
        Assert.True(Directory.Exists(mounts[0].Source));
    }

    [Fact]
    public void Socket_IsRootOnly_InPrivateDirectory()
    {
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(fixture.Host.Address));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(fixture.RunDirectory));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(fixture.Root));
    }

    [Theory]
    [InlineData("/healthz")]
    [InlineData("/readyz")]
    public async Task HealthEndpoints_AnswerOnTheSocket_OverHttp2(string path)
    {
        using var client = new HttpClient(SnapshotterHostHandler(fixture.Host.Address)) { BaseAddress = new Uri("http://localhost") };
        using var request = new HttpRequestMessage(HttpMethod.Get, path) { Version = System.Net.HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };

        using var response = await client.SendAsync(request);

        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("ok", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    internal static SocketsHttpHandler SnapshotterHostHandler(string address) => new()
    {
        ConnectCallback = async (_, cancellationToken) =>
        {
            var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
            await socket.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(address), cancellationToken);
            return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
        },
    };

    private async Task<RepeatedField<Mount>> PrepareAsync(string key, string? parent = null, Dictionary<string, string>? labels = null)
    {
        var request = new PrepareSnapshotRequest { Key = key, Parent = parent ?? "" };
        request.Labels.Add(labels ?? []);
        return (await Client.PrepareAsync(request)).Mounts;
    }

    private async Task<Info> UpdateAsync(string name, Dictionary<string, string> labels, params string[] paths)
    {
        var info = new Info { Name = name };
        info.Labels.Add(labels);
        var request = new UpdateSnapshotRequest { Info = info };
        if (paths.Length > 0)
        {
            request.UpdateMask = new FieldMask();
            request.UpdateMask.Paths.Add(paths);
        }

        return (await Client.UpdateAsync(request)).Info;
    }

    private async Task<List<string>> ListAsync(params string[] filters)
    {
        var request = new ListSnapshotsRequest();
        request.Filters.Add(filters);
        using var call = Client.List(request);
        var names = new List<string>();
        await foreach (var response in call.ResponseStream.ReadAllAsync())
        {
            names.AddRange(response.Info.Select(i => i.Name));
        }

        return names;
    }

    /// <summary>Prepares on <paramref name="parent"/>, lets <paramref name="write"/> change the tree (through the real mount), commits.</summary>
    private async Task<string> CommitLayerAsync(string? parent, Action<string> write, Dictionary<string, string>? labels = null, bool mountToWrite = true)
    {
        string key = SnapshotterFixture.Key("extract");
        var mounts = await PrepareAsync(key, parent);
        if (mountToWrite)
        {
            using var mounted = SnapshotMounts.Mount(mounts, fixture.MountsDirectory);
            write(mounted.Target);
        }
        else
        {
            // Only new files: writing straight into the upper directory is what an overlay write would do.
            var mount = Assert.Single(mounts);
            write(mount.Type == "bind" ? mount.Source : mount.Options.Single(o => o.StartsWith("upperdir=", StringComparison.Ordinal))["upperdir=".Length..]);
        }

        string name = SnapshotterFixture.Key("layer");
        var commit = new CommitSnapshotRequest { Name = name, Key = key };
        commit.Labels.Add(labels ?? []);
        await Client.CommitAsync(commit);
        return name;
    }

    private static async Task AssertStatusAsync(StatusCode expected, Func<Task> call)
    {
        var error = await Assert.ThrowsAsync<RpcException>(call);
        Assert.Equal(expected, error.StatusCode);
        Assert.False(string.IsNullOrWhiteSpace(error.Status.Detail));
    }
}
