using System.Text;
using Accelerator.Oci.Validation;
using Accelerator.Snapshots.Interop;
using Accelerator.Snapshots.Storage;
using Accelerator.Testing.Fuzzing;

namespace Accelerator.Snapshots.Tests.Storage;

/// <summary>Chain IDs, options, file locks and the mountinfo parser.</summary>
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

    [Fact]
    public void Parse_OverlayLine_MountPointAndUpperDir()
    {
        string line = @"120 30 0:55 / /srv/with\040space rw,relatime shared:1 - overlay overlay rw,lowerdir=/a:/b,upperdir=/s/mounts/x/upper,workdir=/s/mounts/x/work";

        var mounts = MountTable.Parse([line]);

        Assert.Equal("/srv/with space", Assert.Single(mounts).MountPoint);
        Assert.True(MountTable.IsUpperInUse(mounts, "/s/mounts/x/upper"));
        Assert.False(MountTable.IsUpperInUse(mounts, "/s/mounts/x"));
    }

    [Fact]
    public void Parse_RandomAndMutatedLines_NeverThrows()
    {
        var random = new Random(99);
        byte[] seed = Encoding.UTF8.GetBytes("36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue");
        for (int i = 0; i < 2000; i++)
        {
            byte[] input = i % 2 == 0 ? FuzzInput.RandomBytes(random, 200) : FuzzInput.Mutate(seed, random);
            var mounts = MountTable.Parse([Encoding.UTF8.GetString(input)]);
            Assert.True(mounts.Count <= 1);
        }
    }
}
