using Accelerator.Block.Disks;
using Accelerator.Block.Nbd;
using Accelerator.Block.Tests.Support;

namespace Accelerator.Block.Tests.Nbd;

/// <summary>
/// One server for a test class, on a unix socket and a loopback TCP port, with four exports of a 16 MiB raw image:
/// <c>disk</c> (read-only), <c>rw</c> (a writable copy), <c>faulty</c> (reads of 4 MiB..4 MiB+64 KiB fail) and
/// <c>small</c> (a 1 MiB file).
/// </summary>
public sealed class NbdServerFixture : IAsyncLifetime
{
    public const long ImageSize = 16 * 1024 * 1024;
    public const long FaultOffset = 4 * 1024 * 1024;

    private readonly TempDirectory _directory = new();

    public string ImagePath { get; private set; } = string.Empty;

    public string WritablePath { get; private set; } = string.Empty;

    public string SocketPath => _directory.Combine("nbd.sock");

    public NbdServer Server { get; private set; } = null!;

    public NbdEndpoint Tcp { get; private set; } = null!;

    internal FaultyVirtualDisk Faulty { get; private set; } = null!;

    public string Directory => _directory.Path;

    public string Uri(string export) => $"nbd+unix:///{export}?socket={SocketPath}";

    public async Task InitializeAsync()
    {
        ImagePath = RawImages.CreateRandom(_directory.Combine("disk.img"), ImageSize, seed: 6);
        WritablePath = _directory.Combine("rw.img");
        File.Copy(ImagePath, WritablePath);
        string small = RawImages.CreateRandom(_directory.Combine("small.img"), 1024 * 1024, seed: 7);
        Faulty = new FaultyVirtualDisk(FileVirtualDisk.Open(ImagePath)) { FailingRange = (FaultOffset, 64 * 1024) };
        Server = new NbdServer(
        [
            new NbdExport("disk", FileVirtualDisk.Open(ImagePath), "the raw test image"),
            new NbdExport("rw", FileVirtualDisk.Open(WritablePath, writable: true)),
            new NbdExport("faulty", Faulty, "fails a range"),
            new NbdExport("small", FileVirtualDisk.Open(small)),
        ], new NbdServerOptions { DefaultExport = "disk" });
        await Server.ListenAsync(NbdEndpoint.Unix(SocketPath));
        Tcp = await Server.ListenAsync(NbdEndpoint.Tcp("127.0.0.1", 0));
    }

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        foreach (var export in Server.Exports)
        {
            await export.Disk.DisposeAsync();
        }

        _directory.Dispose();
    }
}
