using Accelerator.Containerd.Api.Snapshots;
using SnapshotsApi = Accelerator.Containerd.Api.Snapshots.Snapshots;

namespace Accelerator.Snapshotter.Tests.Support;

/// <summary>
/// One daemon for a test class; tests use keys of their own (<see cref="Key"/>), so they share it safely. The root is
/// short (<c>/tmp/accel-sn-XXXXXXXX/root</c>), as a node's <c>/var/lib/accel</c> is, so that a deep chain's lower
/// directories fit in one page of mount options.
/// </summary>
public sealed class SnapshotterFixture : IAsyncLifetime
{
    private readonly ShortTempDirectory _directory = new();
    private SnapshotterHost? _host;

    public string Root => _directory.Combine("root");

    public string RunDirectory => _directory.Combine("run");

    public string MountsDirectory => _directory.Combine("mnt");

    internal SnapshotterHost Host => _host!;

    public SnapshotsApi.SnapshotsClient Client => Host.Client;

    public static string Key(string name) => $"{name}-{Guid.NewGuid():N}";

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(MountsDirectory);
        _host = await SnapshotterHost.StartAsync(Root, RunDirectory);
    }

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }

        _directory.Dispose();
    }
}

/// <summary>A short directory under the temp directory, deleted on dispose.</summary>
internal sealed class ShortTempDirectory : IDisposable
{
    public ShortTempDirectory() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "accel-sn-" + Guid.NewGuid().ToString("N")[..8]);

    public string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}
