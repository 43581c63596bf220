using Accelerator.P2P.Peers;
using Accelerator.Testing.Host;

namespace Accelerator.P2P.Tests.Issues;

/// <summary>
/// Issue 12, B13: the piece store kept pieces of private blobs world-readable (0644 in a 0755 directory), so any
/// local user could read private image content a peer had fetched. Now the data directory and the store are 0700 and
/// every piece file 0600.
/// </summary>
public sealed class Issue12_PieceStorePermissionsTests : IDisposable
{
    private const UnixFileMode PrivateDirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private readonly string _base = UnprivilegedUser.CreateTraversableDirectory("accel-issue12-pieces-");

    public void Dispose() => Directory.Delete(_base, recursive: true);

    [Fact]
    public async Task Put_PrivatePiece_FileIs0600InAPrivateStoreAndNobodyCannotReadIt()
    {
        string data = Path.Combine(_base, "data");
        var store = PieceStore.Open(data, 1_000_000);
        byte[] piece = "private blob content"u8.ToArray();
        var task = Digest.Compute("private blob"u8.ToArray());

        Assert.True(store.Put(task, 4096, 0, Digest.Compute(piece), piece));

        string file = Assert.Single(Directory.EnumerateFiles(data, "*", SearchOption.AllDirectories));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        Assert.Equal(PrivateDirectoryMode, File.GetUnixFileMode(data));
        Assert.Equal(PrivateDirectoryMode, File.GetUnixFileMode(Path.Combine(data, "pieces")));
        Assert.False(await UnprivilegedUser.CanReadAsync(file));
    }

    [Fact]
    public void Open_DataDirectoryLeft0755ByAnOlderVersion_TightensItTo0700()
    {
        string data = Directory.CreateDirectory(Path.Combine(_base, "old")).FullName;
        File.SetUnixFileMode(data, (UnixFileMode)0x1ED);

        PieceStore.Open(data, 1_000_000);

        Assert.Equal(PrivateDirectoryMode, File.GetUnixFileMode(data));
    }
}
