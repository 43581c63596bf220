using System.Text;
using Accelerator.Oci.Validation;
using Accelerator.Snapshots.Storage;

namespace Accelerator.Snapshots.Tests.Storage;

/// <summary>Chain IDs, options and file locks (the mountinfo parser: Accelerator.Linux.Tests.MountTableTests).</summary>
public sealed class StorageTests
{
    [Fact]
    public void Compute_ThreeDiffIds_FollowsImageSpecFormula()
    {
        var diffIds = new[] { Digest.Compute("a"u8), Digest.Compute("b"u8), Digest.Compute("c"u8) };

        var chain = ChainId.Compute(diffIds);

        Assert.Equal(diffIds[0], chain[0]);
        Assert.Equal(Digest.Compute(Encoding.ASCII.GetBytes($"{diffIds[0]} {diffIds[1]}")), chain[1]);
        Assert.Equal(Digest.Compute(Encoding.ASCII.GetBytes($"{chain[1]} {diffIds[2]}")), chain[2]);
    }

    [Theory]
    [InlineData("", 0L, 1)]
    [InlineData("/var/lib/a,b", 0L, 1)]
    [InlineData("/var/lib/a:b", 0L, 1)]
    [InlineData("/x", -1L, 1)]
    [InlineData("/x", 0L, 0)]
    public void Validate_OutOfRange_Throws(string root, long capacity, int parallel)
    {
        var options = new SnapshotStoreOptions { Root = root, CapacityBytes = capacity, MaxParallelDownloads = parallel };

        Assert.Throws<ArgumentException>(() => new SnapshotStoreOptionsValidator().ThrowIfInvalid(options, "snapshot store"));
    }

    [Fact]
    public void Validate_NonPositiveTimeToLive_Throws()
        => Assert.Throws<ArgumentException>(() => new SnapshotStoreOptionsValidator().ThrowIfInvalid(new SnapshotStoreOptions { TimeToLive = TimeSpan.Zero }, "snapshot store"));

    [Fact]
    public void TryAcquire_HeldElsewhere_NullUntilReleased()
    {
        string path = Path.Combine(Path.GetTempPath(), $"accel-lock-{Guid.NewGuid():N}");
        try
        {
            var held = FileLock.TryAcquire(path);
            Assert.NotNull(held);
            Assert.Null(FileLock.TryAcquire(path));
            Assert.True(FileLock.IsHeld(path));
            held!.Dispose();
            using var again = FileLock.TryAcquire(path);
            Assert.NotNull(again);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
