using Accelerator.Chunks.Caching;
using Accelerator.Testing.Host;

namespace Accelerator.Chunks.Tests.Issues;

/// <summary>
/// Issue 12, B13: a chunk cache directory that already existed (the default /var/cache/accel/chunks was created
/// 0755 before the cache opened it) stayed open to every local user, who could read cached chunks of private images.
/// The cache's directory is now 0700, tightened when it was left open.
/// </summary>
public sealed class Issue12_ChunkCachePermissionsTests : IDisposable
{
    private const UnixFileMode PrivateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private readonly string _base = UnprivilegedUser.CreateTraversableDirectory("accel-issue12-chunks-");

    public void Dispose() => Directory.Delete(_base, recursive: true);

    [Fact]
    public async Task Open_ExistingDirectory0755_TightensTo0700AndNobodyCannotReadChunks()
    {
        string directory = Directory.CreateDirectory(Path.Combine(_base, "chunks")).FullName;
        File.SetUnixFileMode(directory, (UnixFileMode)0x1ED);

        using var cache = ChunkCache.Open(new ChunkCacheOptions { Directory = directory });
        string probe = Path.Combine(directory, "probe");
        await File.WriteAllTextAsync(probe, "cached chunk of a private image");

        Assert.Equal(PrivateMode, File.GetUnixFileMode(directory));
        Assert.False(await UnprivilegedUser.CanReadAsync(probe));
    }
}
