using System.Diagnostics;

namespace Accelerator.Linux;

/// <summary>
/// A loop device attached with <c>losetup --find --show</c> (util-linux), detached with <c>losetup --detach</c>. The
/// kernel picks the device and handles the attach races between processes; the device is autocleared when detached
/// while still open (by a mounted file system), so it goes away with the last user. losetup is run from here only.
/// </summary>
public sealed class LoopDevice
{
    private const string SysBlock = "/sys/block";

    private LoopDevice(string path, bool directIo)
    {
        Path = path;
        DirectIo = directIo;
    }

    /// <summary>The device, e.g. <c>/dev/loop3</c>.</summary>
    public string Path { get; }

    /// <summary>Whether the kernel uses direct I/O on the backing file (<c>/sys/block/loopN/loop/dio</c>).</summary>
    public bool DirectIo { get; }

    /// <summary>Attaches <paramref name="backingFile"/>.</summary>
    /// <param name="backingFile">The file the device reads and writes.</param>
    /// <param name="readOnly">Attach read-only.</param>
    /// <param name="directIo">Ask for direct I/O on the backing file (see <see cref="DirectIo"/> for what the kernel granted).</param>
    /// <param name="logicalBlockSize">The device's sector size in bytes (512, 4096).</param>
    /// <param name="cancellationToken">Cancels waiting for losetup.</param>
    /// <exception cref="IOException">losetup failed (no loop devices, not root…).</exception>
    public static async Task<LoopDevice> AttachAsync(string backingFile, bool readOnly, bool directIo, int logicalBlockSize, CancellationToken cancellationToken)
    {
        var arguments = new List<string> { "--find", "--show", "--sector-size", logicalBlockSize.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        if (readOnly)
        {
            arguments.Add("--read-only");
        }

        if (directIo)
        {
            // Without it the disk's pages are cached twice: by the file system above the loop device and by the FUSE
            // file below it. The kernel falls back to buffered I/O when the backing file cannot do direct I/O.
            arguments.Add("--direct-io=on");
        }

        arguments.Add(backingFile);
        string device = (await RunAsync(arguments, cancellationToken).ConfigureAwait(false)).Trim();
        if (!device.StartsWith("/dev/loop", StringComparison.Ordinal))
        {
            throw new IOException($"losetup attached '{backingFile}' to an unexpected device '{device}'.");
        }

        bool dio = false;
        try
        {
            dio = File.ReadAllText($"/sys/block/{System.IO.Path.GetFileName(device)}/loop/dio").Trim() == "1";
        }
        catch (IOException)
        {
        }

        return new LoopDevice(device, dio);
    }

    /// <summary>
    /// The attached loop device <paramref name="device"/> (<c>/dev/loopN</c>), when its backing file is
    /// <paramref name="backingFile"/> (<c>/sys/block/loopN/loop/backing_file</c>): one a predecessor process attached,
    /// taken over as it is. Null when the device is gone or backs another file.
    /// </summary>
    public static LoopDevice? TryOpenAttached(string device, string backingFile)
    {
        ArgumentException.ThrowIfNullOrEmpty(device);
        ArgumentException.ThrowIfNullOrEmpty(backingFile);
        string name = System.IO.Path.GetFileName(device);
        if (!device.StartsWith("/dev/loop", StringComparison.Ordinal) || name.Contains("..", StringComparison.Ordinal))
        {
            return null;
        }

        try
        {
            string attached = File.ReadAllText($"{SysBlock}/{name}/loop/backing_file").TrimEnd('\n');
            if (attached != backingFile)
            {
                return null;
            }

            bool dio = File.ReadAllText($"{SysBlock}/{name}/loop/dio").Trim() == "1";
            return new LoopDevice(device, dio);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// Sets the device's readahead (<c>/sys/block/loopN/queue/read_ahead_kb</c>): the file system on it then reads ahead
    /// in requests this large, which reach the FUSE file as READs of up to 1 MiB instead of 128 KiB.
    /// </summary>
    /// <returns>False when the kernel refused (the default stays).</returns>
    public bool TrySetReadAhead(int kilobytes)
    {
        try
        {
            File.WriteAllText($"/sys/block/{System.IO.Path.GetFileName(Path)}/queue/read_ahead_kb", kilobytes.ToString(System.Globalization.CultureInfo.InvariantCulture));
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Detaches the device (the kernel frees it once no file system holds it).</summary>
    /// <exception cref="IOException">losetup failed.</exception>
    public Task DetachAsync(CancellationToken cancellationToken = default) => DetachAsync(Path, cancellationToken);

    /// <summary>Detaches <paramref name="device"/> (<c>/dev/loopN</c>), for one this process did not attach (left by a dead one).</summary>
    /// <exception cref="IOException">losetup failed.</exception>
    public static Task DetachAsync(string device, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(device);
        return RunAsync(["--detach", device], cancellationToken);
    }

    /// <summary>
    /// The loop devices (<c>/dev/loopN</c>) whose backing file lies under <paramref name="directory"/>, found in sysfs
    /// (<c>/sys/block/loopN/loop/backing_file</c>): those a process that died left attached.
    /// </summary>
    public static IReadOnlyList<string> BackedUnder(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        string prefix = directory.TrimEnd('/') + "/";
        return [.. ListAttached().Where(l => l.BackingFile.StartsWith(prefix, StringComparison.Ordinal)).Select(l => l.Device)];
    }

    /// <summary>
    /// Every attached loop device and its backing file, read from sysfs (<c>/sys/block/loopN/loop/backing_file</c>);
    /// devices without a backing file (free ones) are left out.
    /// </summary>
    public static IReadOnlyList<AttachedLoopDevice> ListAttached()
    {
        var found = new List<AttachedLoopDevice>();
        if (!Directory.Exists(SysBlock))
        {
            return found;
        }

        foreach (string device in Directory.EnumerateDirectories(SysBlock, "loop*"))
        {
            try
            {
                string backing = File.ReadAllText(System.IO.Path.Combine(device, "loop", "backing_file")).TrimEnd('\n');
                found.Add(AttachedLoopDevice.FromSysfs("/dev/" + System.IO.Path.GetFileName(device), backing));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Not attached (no backing_file) or gone meanwhile.
            }
        }

        return found;
    }

    private static async Task<string> RunAsync(IEnumerable<string> arguments, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("losetup")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new IOException("Could not start losetup.");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new IOException($"Cannot run losetup (util-linux): {ex.Message}", ex);
        }

        using (process)
        {
            var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
            var error = process.StandardError.ReadToEndAsync(cancellationToken);
            await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            if (process.ExitCode != 0)
            {
                throw new IOException($"losetup {string.Join(' ', start.ArgumentList)} failed: {(await error.ConfigureAwait(false)).Trim()}");
            }

            return await output.ConfigureAwait(false);
        }
    }
}

/// <summary>An attached loop device, as sysfs shows it.</summary>
/// <param name="Device">The device, e.g. <c>/dev/loop3</c>.</param>
/// <param name="BackingFile">The backing file's path, without the kernel's <c> (deleted)</c> suffix.</param>
/// <param name="Deleted">Whether the backing file was deleted (or its mount detached) after the device was attached.</param>
public readonly record struct AttachedLoopDevice(string Device, string BackingFile, bool Deleted)
{
    // d_path(), which sysfs uses for backing_file, appends this to the path of an unlinked dentry (fs/d_path.c).
    private const string DeletedSuffix = " (deleted)";

    /// <summary>Reads the <c>backing_file</c> text of sysfs (its trailing newline removed).</summary>
    public static AttachedLoopDevice FromSysfs(string device, string backingFile)
    {
        ArgumentNullException.ThrowIfNull(backingFile);
        bool deleted = backingFile.EndsWith(DeletedSuffix, StringComparison.Ordinal);
        return new AttachedLoopDevice(device, deleted ? backingFile[..^DeletedSuffix.Length] : backingFile, deleted);
    }
}
