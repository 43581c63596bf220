using Accelerator.Oci.Registry;
using Accelerator.Snapshotter.Cri;
using Microsoft.Extensions.Options;

namespace Accelerator.Snapshotter.Tests.Cri;

public sealed class CriCredentialStoreTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("accel-cri-store-").FullName;

    private string State => Path.Combine(_directory, "state");

    private CriCredentialStore Open(int capacity = 1024)
        => new(Options.Create(new CriProxyOptions { StateDirectory = State, MaxCredentials = capacity }));

    private static readonly RegistryCredentials Alice = new("alice", "secret-a", null);
    private static readonly RegistryCredentials Bob = new("bob", "secret-b", null);

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Give_WhilePullRuns_IsFoundForThatRepositoryOnly()
    {
        var store = Open();

        using var offer = store.Give("r.example:5000", "team/app", Alice);

        Assert.Equal(Alice, store.Find("r.example:5000", "team/app"));
        Assert.Equal(Alice, store.Find("R.EXAMPLE:5000", "team/app"));
        Assert.Null(store.Find("r.example:5000", "team/other"));
        Assert.Null(store.Find("r.example:5000", "Team/App"));
        Assert.Null(store.Find("other.example:5000", "team/app"));
        Assert.False(File.Exists(store.FilePath));
    }

    [Fact]
    public void Give_NewerPull_WinsAndNamesTheImageAsItsSource()
    {
        var store = Open();
        using (var first = store.Give("r.example", "team/app", Alice, "r.example/team/app:v1"))
        {
            first.Complete();
        }

        Assert.Equal("the CRI pull of image r.example/team/app:v1", store.Find("r.example", "team/app")!.Source);
        using (var second = store.Give("r.example", "team/app", Bob, "r.example/team/app:v2"))
        {
            second.Complete();
        }

        var found = store.Find("r.example", "team/app")!;
        Assert.Equal(Bob, found);
        Assert.Equal("the CRI pull of image r.example/team/app:v2", found.Source);
        Assert.DoesNotContain("secret", found.Source, StringComparison.Ordinal);
        Assert.StartsWith("the CRI pull of image r.example/team/app", Open().Find("r.example", "team/app")!.Source, StringComparison.Ordinal);
    }

    [Fact]
    public void Give_PullFailed_BringsThePreviousCredentialBack()
    {
        var store = Open();
        using (var first = store.Give("r.example", "team/app", Alice))
        {
            first.Complete();
        }

        using (store.Give("r.example", "team/app", Bob))
        {
            Assert.Equal(Bob, store.Find("r.example", "team/app"));
        }

        Assert.Equal(Alice, store.Find("r.example", "team/app"));
    }

    [Fact]
    public void Give_FirstPullFailed_KeepsNothing()
    {
        var store = Open();

        using (store.Give("r.example", "team/app", Alice))
        {
        }

        Assert.Null(store.Find("r.example", "team/app"));
        Assert.Equal(0, store.Count);
    }

    [Fact]
    public void Complete_WritesOwnerOnlyFileThatANewStoreLoads()
    {
        var store = Open();
        using (var offer = store.Give("r.example", "team/app", Alice with { RegistryToken = "tok" }))
        {
            offer.Complete();
        }

        var reopened = Open();

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(store.FilePath));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(State));
        var loaded = reopened.Find("r.example", "team/app");
        Assert.NotNull(loaded);
        Assert.Equal(("alice", "secret-a", "tok"), (loaded.Username, loaded.Password, loaded.RegistryToken));
        Assert.Empty(Directory.GetFiles(State, "*.tmp"));
    }

    [Fact]
    public void Complete_OverCapacity_DropsTheOldest()
    {
        var store = Open(capacity: 2);
        foreach (string repository in new[] { "a", "b", "c" })
        {
            using var offer = store.Give("r.example", repository, Alice);
            offer.Complete();
        }

        Assert.Equal(2, store.Count);
        Assert.Null(store.Find("r.example", "a"));
        Assert.NotNull(store.Find("r.example", "c"));
    }

    [Theory]
    [InlineData("{ not json")]
    [InlineData("""{"version":1,"entries":[{"registry":"../../etc","repository":"x","username":"u","password":"p"}]}""")]
    [InlineData("""{"version":1,"entries":[{"registry":"r.example","repository":"UPPER","username":"u","password":"p"}]}""")]
    public void Open_UnreadableFile_StartsEmptyAndIsReplacedByTheNextPull(string content)
    {
        Directory.CreateDirectory(State);
        File.WriteAllText(Path.Combine(State, CriCredentialStore.FileName), content);

        var store = Open();
        Assert.Equal(0, store.Count);
        using (var offer = store.Give("r.example", "team/app", Alice))
        {
            offer.Complete();
        }

        Assert.Equal(Alice, Open().Find("r.example", "team/app"));
    }

    [Fact]
    public void Give_OversizedName_Throws()
        => Assert.Throws<ArgumentException>(() => Open().Give("r.example", new string('a', 5000), Alice));
}
