using System.Collections.Concurrent;

namespace Accelerator.Block.Disks;

/// <summary>
/// Dedicated threads for reads that must wait for a device. Blocking the .NET thread pool with them starves it on a busy
/// machine (it adds threads slowly), which stalls every other continuation — socket replies, FUSE answers — behind disk
/// waits; these threads only ever run preads.
/// </summary>
internal static class BlockingReadThreads
{
    private const int Count = 16;

    private static readonly BlockingCollection<Work> Queue = new(new ConcurrentQueue<Work>());
    private static int _started;

    /// <summary>Runs <paramref name="read"/> on one of the threads; completes with its result.</summary>
    public static Task<int> RunAsync(Func<int> read)
    {
        if (Volatile.Read(ref _started) == 0 && Interlocked.Exchange(ref _started, 1) == 0)
        {
            for (int i = 0; i < Count; i++)
            {
                new Thread(Loop) { IsBackground = true, Name = $"accel-disk-read-{i}" }.Start();
            }
        }

        var work = new Work(read);
        Queue.Add(work);
        return work.Completion.Task;
    }

    private static void Loop()
    {
        foreach (var work in Queue.GetConsumingEnumerable())
        {
            try
            {
                work.Completion.SetResult(work.Read());
            }
            catch (Exception ex)
            {
                work.Completion.SetException(ex);
            }
        }
    }

    private sealed class Work(Func<int> read)
    {
        public Func<int> Read { get; } = read;

        public TaskCompletionSource<int> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
