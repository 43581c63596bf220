using Accelerator.Linux;
using Microsoft.Win32.SafeHandles;

namespace Accelerator.Fuse.Takeover;

/// <summary>
/// Watches held <c>/dev/fuse</c> descriptors on a thread of its own: every <see cref="CheckInterval"/> (and whenever
/// <see cref="Changed"/> writes the eventfd) one poll(2) of every held descriptor with a zero timeout (no events asked:
/// POLLERR, POLLHUP and POLLNVAL are always reported, and <c>/dev/fuse</c> reports POLLERR once its connection ended —
/// unmounted or aborted).
/// </summary>
/// <remarks>
/// The devices are never waited on: a poller sleeping on <c>/dev/fuse</c> is on the connection's wait queue, and the
/// kernel wakes it for every request queued — one context switch of the holder per FUSE request of every mount it
/// keeps (measured: +20–40% CPU per request for the serving process). Checking on a timer costs nothing per request;
/// an ended connection is dropped within <see cref="CheckInterval"/>.
/// </remarks>
/// <typeparam name="TEntry">What is watched; <paramref name="device"/> gives its descriptor.</typeparam>
internal sealed class FuseDeviceWatcher<TEntry>(Func<IReadOnlyList<TEntry>> snapshot, Func<TEntry, SafeFileHandle> device, Action<TEntry> ended, Action<string> failed) : IDisposable
    where TEntry : class
{
    /// <summary>How often the held descriptors are checked for an ended connection.</summary>
    internal static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(2);

    private readonly SafeFileHandle _wake = LibC.EventFd();
    private Thread? _thread;
    private volatile bool _stopping;

    /// <summary>Starts watching.</summary>
    public void Start()
    {
        _thread = new Thread(Watch) { IsBackground = true, Name = "fuse-holder-watch" };
        _thread.Start();
    }

    /// <summary>The set of entries changed: poll the new one.</summary>
    public void Changed()
    {
        Span<byte> one = stackalloc byte[8];
        one[0] = 1;
        bool added = false;
        try
        {
            _wake.DangerousAddRef(ref added);
            _ = LibC.Write((int)_wake.DangerousGetHandle(), one);
        }
        catch (ObjectDisposedException)
        {
            // Stopped.
        }
        finally
        {
            if (added)
            {
                _wake.DangerousRelease();
            }
        }
    }

    /// <summary>Stops the thread and waits for it.</summary>
    public void Dispose()
    {
        _stopping = true;
        Changed();
        _thread?.Join();
        _wake.Dispose();
    }

    private void Watch()
    {
        try
        {
            WatchUntilStopped();
        }
        catch (Exception ex)
        {
            // On a thread of its own: anything that escaped would end the holder and every connection it keeps.
            failed(ex.Message);
        }
    }

    private void WatchUntilStopped()
    {
        Span<byte> drain = stackalloc byte[8];
        while (!_stopping)
        {
            var entries = snapshot();

            // References keep each descriptor's number from being closed (and reused) while poll looks at it.
            var added = new bool[entries.Count + 1];
            var poll = new PollDescriptor[entries.Count + 1];
            try
            {
                _wake.DangerousAddRef(ref added[0]);
                poll[0] = new PollDescriptor { Fd = (int)_wake.DangerousGetHandle(), Events = LibC.POLLIN };
                for (int i = 0; i < entries.Count; i++)
                {
                    try
                    {
                        device(entries[i]).DangerousAddRef(ref added[i + 1]);
                        poll[i + 1] = new PollDescriptor { Fd = (int)device(entries[i]).DangerousGetHandle() };
                    }
                    catch (ObjectDisposedException)
                    {
                        poll[i + 1] = new PollDescriptor { Fd = -1 };
                    }
                }

                // Sleep on the eventfd alone, then look at the devices without waiting on them.
                int n = LibC.Poll(poll.AsSpan(0, 1), (int)CheckInterval.TotalMilliseconds);
                if (n < 0 && n != -Errno.EINTR)
                {
                    failed(LibC.Message(-n));
                    return;
                }

                if (n > 0)
                {
                    _ = LibC.Read(poll[0].Fd, drain);
                }

                if (_stopping)
                {
                    return;
                }

                poll[0].ReturnedEvents = 0;
                n = entries.Count == 0 ? 0 : LibC.Poll(poll.AsSpan(1), 0);
                if (n < 0 && n != -Errno.EINTR)
                {
                    failed(LibC.Message(-n));
                    return;
                }
                for (int i = 0; i < entries.Count; i++)
                {
                    if ((poll[i + 1].ReturnedEvents & (LibC.POLLERR | LibC.POLLHUP | LibC.POLLNVAL)) != 0)
                    {
                        ended(entries[i]);
                    }
                }
            }
            finally
            {
                for (int i = 0; i < added.Length; i++)
                {
                    if (added[i])
                    {
                        (i == 0 ? _wake : device(entries[i - 1])).DangerousRelease();
                    }
                }
            }
        }
    }
}
