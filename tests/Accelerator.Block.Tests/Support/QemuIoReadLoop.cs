using System.Diagnostics;
using System.Globalization;

namespace Accelerator.Block.Tests.Support;

/// <summary>
/// A real NBD client that reconnects by itself: <c>qemu-io</c> on <c>--image-opts driver=nbd,…,reconnect-delay=N</c>,
/// driven through its command prompt to read the disk block after block in a loop (with a pattern,
/// <c>read -P PATTERN OFFSET LENGTH</c>: qemu-io checks every byte against it). Each read's latency and outcome is recorded, so a test can assert
/// that no read failed across a server restart and measure the stall.
/// </summary>
internal sealed class QemuIoReadLoop : IAsyncDisposable
{
    private static readonly TimeSpan ReadLimit = TimeSpan.FromMinutes(2);
    private readonly Process _process;
    private readonly List<Read> _reads = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Task _loop;

    private QemuIoReadLoop(Process process, int blocks, int blockSize, Func<int, byte>? pattern, TimeSpan pause)
    {
        _process = process;
        _loop = Task.Run(() => LoopAsync(blocks, blockSize, pattern, pause));
    }

    /// <summary>One read: when it was sent (since the loop started), how long it took, and the line that ended it.</summary>
    public sealed record Read(TimeSpan SentAt, TimeSpan Latency, bool Succeeded, string Line);

    /// <summary>Time since the loop started, on the clock of <see cref="Read.SentAt"/>.</summary>
    public TimeSpan Elapsed => _clock.Elapsed;

    /// <summary>Reads finished so far.</summary>
    public int Count
    {
        get
        {
            lock (_reads)
            {
                return _reads.Count;
            }
        }
    }

    /// <summary>A copy of the reads finished so far.</summary>
    public IReadOnlyList<Read> Reads
    {
        get
        {
            lock (_reads)
            {
                return [.. _reads];
            }
        }
    }

    /// <summary>
    /// Starts qemu-io (read-only) on the export <paramref name="export"/> at 127.0.0.1:<paramref name="port"/>, reading
    /// block i % <paramref name="blocks"/> (whose bytes must all equal <paramref name="pattern"/>(i), when given), one
    /// read after another with <paramref name="pause"/> between them.
    /// </summary>
    public static QemuIoReadLoop Start(int port, string export, int reconnectDelaySeconds, int blocks, int blockSize, Func<int, byte>? pattern, TimeSpan pause)
    {
        var start = new ProcessStartInfo("qemu-io")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in (string[])[
            "-r", "--image-opts",
            string.Create(CultureInfo.InvariantCulture, $"driver=nbd,server.type=inet,server.host=127.0.0.1,server.port={port},export={export},reconnect-delay={reconnectDelaySeconds}")])
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("Cannot start qemu-io.");
        process.ErrorDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        return new QemuIoReadLoop(process, blocks, blockSize, pattern, pause);
    }

    /// <summary>Waits until <paramref name="count"/> reads more than now have finished.</summary>
    public async Task WaitForMoreReadsAsync(int count, TimeSpan timeout)
    {
        int target = Count + count;
        var deadline = Stopwatch.StartNew();
        while (Count < target)
        {
            Assert.False(_loop.IsCompleted, $"The read loop ended: {_loop.Exception?.InnerException?.Message}");
            Assert.True(deadline.Elapsed < timeout, $"qemu-io did not finish {count} more reads within {timeout} ({Count} in all).");
            await Task.Delay(20);
        }
    }

    /// <summary>Stops the loop after the read under way, quits qemu-io and returns every read.</summary>
    public async Task<IReadOnlyList<Read>> StopAsync()
    {
        _stop.Cancel();
        await _loop;
        await _process.StandardInput.WriteLineAsync("quit");
        await _process.StandardInput.FlushAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _process.WaitForExitAsync(timeout.Token);
        return Reads;
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        await _process.WaitForExitAsync();
        try
        {
            await _loop;
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or ObjectDisposedException)
        {
        }

        _process.Dispose();
        _stop.Dispose();
    }

    // One command at a time: "qemu-io> read N/N bytes at offset X" then "… ops; …" when the read and the pattern check
    // succeed; "read failed: …" or "Pattern verification failed …" when not.
    private async Task LoopAsync(int blocks, int blockSize, Func<int, byte>? pattern, TimeSpan pause)
    {
        Stopwatch clock = _clock;
        for (int i = 0; !_stop.IsCancellationRequested; i++)
        {
            int block = i % blocks;
            TimeSpan sent = clock.Elapsed;
            string check = pattern is null ? "" : string.Create(CultureInfo.InvariantCulture, $"-P 0x{pattern(block):x2} ");
            await _process.StandardInput.WriteLineAsync(string.Create(
                CultureInfo.InvariantCulture, $"read {check}{(long)block * blockSize} {blockSize}"));
            await _process.StandardInput.FlushAsync();
            string? line;
            bool succeeded;
            using (var limit = new CancellationTokenSource(ReadLimit))
            {
                while (true)
                {
                    try
                    {
                        line = await _process.StandardOutput.ReadLineAsync(limit.Token);
                    }
                    catch (OperationCanceledException)
                    {
                        line = $"no answer within {ReadLimit}";
                        succeeded = false;
                        break;
                    }

                    if (line is null)
                    {
                        line = "qemu-io exited";
                        succeeded = false;
                        break;
                    }

                    if (line.Contains(" ops; ", StringComparison.Ordinal))
                    {
                        succeeded = true;
                        break;
                    }

                    if (line.Contains("failed", StringComparison.OrdinalIgnoreCase) || line.Contains("error", StringComparison.OrdinalIgnoreCase))
                    {
                        succeeded = false;
                        break;
                    }
                }
            }

            lock (_reads)
            {
                _reads.Add(new Read(sent, clock.Elapsed - sent, succeeded, line));
            }

            if (!succeeded && line is "qemu-io exited")
            {
                return;
            }

            try
            {
                await Task.Delay(pause, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
