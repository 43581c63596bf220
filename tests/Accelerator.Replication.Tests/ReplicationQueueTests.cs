using Accelerator.Replication;
using Accelerator.Oci.Tests.Layout;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Accelerator.Replication.Tests;

public sealed class ReplicationQueueTests : IDisposable
{
    private static readonly Digest D1 = Digest.Compute("one"u8);
    private static readonly Digest D2 = Digest.Compute("two"u8);
    private readonly TempDirectory _directory = new();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    public void Dispose() => _directory.Dispose();

    private ReplicationQueue Open() => ReplicationQueue.Open(_directory.Path, _time, NullLogger.Instance);

    [Fact]
    public void Enqueue_ThenReopen_EntryResumedFromDisk()
    {
        Open().Enqueue("reg:5000", "team/app", "1.0", D1);

        var reopened = Open();

        var item = Assert.Single(reopened.Snapshot());
        Assert.Equal(("reg:5000", "team/app", "1.0", (Digest?)D1, 0), (item.Source, item.Repository, item.Tag, item.Digest, item.Attempts));
        Assert.True(reopened.TryTake(out var taken, out _));
        Assert.Equal(item, taken);
        Assert.Empty(Directory.EnumerateFiles(_directory.Path, "*.tmp", SearchOption.AllDirectories));
    }

    [Fact]
    public void Enqueue_SameTagTwice_OneEntryWithTheLatestDigest()
    {
        var queue = Open();
        queue.Enqueue("reg:5000", "app", "1.0", D1);
        queue.Enqueue("reg:5000", "app", "1.0", D2);
        queue.Enqueue("reg:5000", "app", "2.0", D1);

        Assert.Equal(2, queue.Count);
        Assert.Equal(D2, queue.Snapshot().Single(i => i.Tag == "1.0").Digest);
        Assert.Equal(2, Directory.GetFiles(_directory.Path, "*.json").Length);
    }

    [Fact]
    public void Complete_NewerEventArrivedDuringTheRun_NewerEntryStaysDue()
    {
        var queue = Open();
        queue.Enqueue("reg:5000", "app", "1.0", D1);
        Assert.True(queue.TryTake(out var first, out _));
        Assert.False(queue.TryTake(out _, out _));

        queue.Enqueue("reg:5000", "app", "1.0", D2);
        queue.Complete(first);

        Assert.True(queue.TryTake(out var second, out _));
        Assert.Equal(D2, second.Digest);
        queue.Complete(second);
        Assert.Equal(0, queue.Count);
        Assert.Equal(0, Open().Count);
    }

    [Fact]
    public void Release_WithError_PersistsAttemptAndBackoff()
    {
        var queue = Open();
        queue.Enqueue("reg:5000", "app", "1.0", D1);
        Assert.True(queue.TryTake(out var item, out _));

        queue.Release(item, _time.GetUtcNow().AddSeconds(30), "target down");

        Assert.False(queue.TryTake(out _, out var nextDue));
        Assert.Equal(_time.GetUtcNow().AddSeconds(30), nextDue);
        var reloaded = Assert.Single(Open().Snapshot());
        Assert.Equal((1, "target down"), (reloaded.Attempts, reloaded.LastError));
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.True(queue.TryTake(out var again, out _));
        Assert.Equal(1, again.Attempts);
    }

    [Fact]
    public void Release_WithoutError_DueAgainWithoutCountingAnAttempt()
    {
        var queue = Open();
        queue.Enqueue("reg:5000", "app", "1.0", D1);
        Assert.True(queue.TryTake(out var item, out _));

        queue.Release(item, item.NotBefore, null);

        Assert.True(queue.TryTake(out var again, out _));
        Assert.Equal(0, again.Attempts);
    }

    [Fact]
    public void Open_CorruptOrForeignEntries_MovedAsideOthersLoaded()
    {
        Open().Enqueue("reg:5000", "app", "1.0", D1);
        File.WriteAllText(_directory.Combine("0123456789abcdef0123456789abcdef.json"), "{ not json");
        File.WriteAllBytes(_directory.Combine("renamed.json"), File.ReadAllBytes(Directory.GetFiles(_directory.Path, "*.json").First(f => !f.EndsWith("cdef.json", StringComparison.Ordinal) && !f.EndsWith("renamed.json", StringComparison.Ordinal))));
        File.WriteAllText(_directory.Combine(".leftover.json.abc.tmp"), "partial");

        var queue = Open();

        Assert.Equal(1, queue.Count);
        Assert.Equal(2, Directory.GetFiles(_directory.Combine("corrupt")).Length);
        Assert.False(File.Exists(_directory.Combine(".leftover.json.abc.tmp")));
    }

    [Fact]
    public void Deserialize_MutatedEntries_CleanErrorOrValidEntry()
    {
        var random = new Random(99);
        byte[] seed = ReplicationQueue.Serialize(new QueuedReplication(3, "reg:5000", "team/app", "1.0", D1, _time.GetUtcNow(), 2, _time.GetUtcNow(), "boom"));
        Assert.Equal(3, ReplicationQueue.Deserialize(seed).Sequence);
        for (int i = 0; i < 3000; i++)
        {
            try
            {
                var item = ReplicationQueue.Deserialize(Accelerator.Testing.Fuzzing.FuzzInput.Mutate(seed, random));
                Assert.True(item.Sequence >= 1 && item.Attempts >= 0 && item.Tag.Length > 0);
            }
            catch (FormatException)
            {
            }
        }
    }
}
