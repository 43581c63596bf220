using System.Text;
using Accelerator.Snapshotter.Layers;
using Accelerator.Snapshotter.Metadata;
using Accelerator.Testing.Fuzzing;

namespace Accelerator.Snapshotter.Tests.Metadata;

/// <summary>Snapshot records read back from disk: round trip, and mutated files are either a record or rejected, never a crash.</summary>
public sealed class MetadataFileFuzzTests
{
    private static readonly SnapshotRecord Sample = new(
        7, "sha256:" + new string('c', 64), "parent", SnapshotKind.Committed, new Dictionary<string, string> { ["l"] = "v" },
        DateTimeOffset.FromUnixTimeSeconds(1_700_000_000), DateTimeOffset.FromUnixTimeSeconds(1_700_000_100),
        new LayerSource("store", new Dictionary<string, string> { ["chain"] = "x" }), new SnapshotUsage(4096, 3));

    [Fact]
    public void Serialize_RoundTrips()
    {
        var read = MetadataFile.TryDeserialize(MetadataFile.Serialize(Sample));

        Assert.NotNull(read);
        Assert.Equal((Sample.Id, Sample.Name, Sample.Parent, Sample.Kind, Sample.Created, Sample.Updated, Sample.Usage), (read.Id, read.Name, read.Parent, read.Kind, read.Created, read.Updated, read.Usage));
        Assert.Equal(Sample.Labels, read.Labels);
        Assert.Equal(("store", "x"), (read.Source!.Provider, read.Source.Properties["chain"]));
    }

    [Fact]
    public void TryDeserialize_MutatedRecords_RecordOrNull()
    {
        byte[] seed = MetadataFile.Serialize(Sample);
        var random = new Random(14);
        for (int i = 0; i < 20_000; i++)
        {
            byte[] input = i % 4 == 0 ? FuzzInput.RandomBytes(random, 256) : FuzzInput.Mutate(seed, random);
            if (MetadataFile.TryDeserialize(input) is { } record)
            {
                Assert.True(record.Id > 0 && record.Name.Length > 0, Encoding.UTF8.GetString(input));
            }
        }
    }
}
