using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Accelerator.Linux;

namespace Accelerator.IntegrationTests.Takeover;

/// <summary>
/// Reads files of a mount in a loop, each with O_DIRECT (so every read reaches the mount's server, not the page cache),
/// and checks its SHA-256; counts reads, failures, and the longest read.
/// </summary>
internal sealed class ChecksumReader
{
    private const int Alignment = 4096;

    private readonly string _root;
    private readonly IReadOnlyList<(string Path, string Sha256)> _files;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<string> _errors = [];
    private readonly Task _loop;
    private long _reads;
    private long _longestTicks;

    public ChecksumReader(string root, IReadOnlyList<(string Path, string Sha256)> files)
    {
        _root = root;
        _files = files;
        _loop = Task.Factory.StartNew(Loop, TaskCreationOptions.LongRunning);
    }

    public long Reads => Interlocked.Read(ref _reads);

    public TimeSpan Longest => TimeSpan.FromTicks(Interlocked.Read(ref _longestTicks));

    public IReadOnlyList<string> Errors
    {
        get
        {
            lock (_errors)
            {
                return [.. _errors];
            }
        }
    }

    /// <summary>Waits until <paramref name="count"/> more reads completed (at most a minute).</summary>
    public async Task WaitForReadsAsync(int count)
    {
        long target = Reads + count;
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while (Reads < target)
        {
            Assert.True(DateTime.UtcNow < deadline, $"only {Reads} of {target} reads within a minute; errors: {string.Join("; ", Errors)}");
            Assert.False(_loop.IsCompleted, "the reader stopped");
            await Task.Delay(20);
        }
    }

    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await _loop.WaitAsync(TimeSpan.FromMinutes(1));
    }

    private void Loop()
    {
        byte[] buffer = GC.AllocateArray<byte>((4 * 1024 * 1024) + Alignment, pinned: true);
        int skip = (int)((Alignment - (Marshal.UnsafeAddrOfPinnedArrayElement(buffer, 0) % Alignment)) % Alignment);
        while (!_stop.IsCancellationRequested)
        {
            foreach (var (path, sha256) in _files)
            {
                var stopwatch = Stopwatch.StartNew();
                try
                {
                    string actual = ReadDirect(Path.Combine(_root, path), buffer.AsSpan(skip, buffer.Length - Alignment));
                    if (actual != sha256)
                    {
                        Fail($"{path}: sha256 {actual}, expected {sha256}");
                    }
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    Fail($"{path}: {ex.GetType().Name}: {ex.Message}");
                }

                long ticks = stopwatch.Elapsed.Ticks;
                long seen;
                while (ticks > (seen = Interlocked.Read(ref _longestTicks)) && Interlocked.CompareExchange(ref _longestTicks, ticks, seen) != seen)
                {
                }

                Interlocked.Increment(ref _reads);
            }
        }
    }

    private static string ReadDirect(string path, Span<byte> buffer)
    {
        int fd = LibC.Open(path, LibC.O_RDONLY | LibC.O_CLOEXEC | LibC.O_DIRECT);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"open(O_DIRECT) of {path}: {LibC.Message(errno)}", errno);
        }

        using var handle = new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long offset = 0;
        while (true)
        {
            int read = RandomAccess.Read(handle, buffer, offset);
            if (read == 0)
            {
                break;
            }

            hash.AppendData(buffer[..read]);
            offset += read;
            if (read % Alignment != 0)
            {
                // A short read that is not a whole page: the end of the file (the next would start unaligned).
                break;
            }
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private void Fail(string error)
    {
        lock (_errors)
        {
            _errors.Add(error);
        }
    }
}
