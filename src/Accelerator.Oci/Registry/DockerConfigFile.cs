using Accelerator.Linux;

namespace Accelerator.Oci.Registry;

/// <summary>What one read of docker's config.json held: credentials per host and the credential helpers it names.</summary>
/// <param name="Auths">Credentials of <c>auths</c> per normalized host, each with its <see cref="RegistryCredentials.Source"/>.</param>
/// <param name="Helpers">The <c>credHelpers</c> per normalized host.</param>
/// <param name="DefaultHelper">The <c>credsStore</c>, or null.</param>
internal sealed record DockerConfigSnapshot(IReadOnlyDictionary<string, RegistryCredentials> Auths, IReadOnlyDictionary<string, string> Helpers, string? DefaultHelper)
{
    public static readonly DockerConfigSnapshot Empty = new(new Dictionary<string, RegistryCredentials>(), new Dictionary<string, string>(), null);

    /// <summary>The credential helper for <paramref name="host"/>: its <c>credHelpers</c> entry, else <c>credsStore</c>.</summary>
    public string? HelperFor(string host) => Helpers.TryGetValue(host, out string? helper) ? helper : DefaultHelper;
}

/// <summary>
/// Docker's config.json, read again when it changes: on use, at most once per <see cref="RecheckInterval"/> (or at once
/// after a registry refused what it gave), a cheap stat of the file (device, inode, size, modification time) says
/// whether to read it again. A file replaced by rename (docker login, a Kubernetes secret update) gets a new inode; one
/// rewritten in place a new size or time. No thread polls.
/// </summary>
/// <remarks>
/// A missing file holds no credentials. A malformed file throws <see cref="FormatException"/> when it is first read;
/// once a good version was read, a malformed newer one (caught half-written) keeps the good one until it is readable.
/// </remarks>
internal sealed class DockerConfigFile
{
    /// <summary>The least time between two looks at the file while nothing was refused.</summary>
    public static readonly TimeSpan RecheckInterval = TimeSpan.FromSeconds(1);

    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private DockerConfigSnapshot? _snapshot;
    private FileStamp? _stamp;
    private DateTimeOffset _checkedAt;

    public DockerConfigFile(string path, TimeProvider time)
    {
        Path = path;
        _time = time;
    }

    /// <summary>The file's path.</summary>
    public string Path { get; }

    /// <summary>The source description of the credentials of <c>auths</c>.</summary>
    public string AuthsSource => $"{Path} (auths)";

    /// <summary>What the file holds now (read again if it changed since the last look, which is at most a second old).</summary>
    public DockerConfigSnapshot Current
    {
        get
        {
            lock (_lock)
            {
                var now = _time.GetUtcNow();
                if (_snapshot is not null && now - _checkedAt < RecheckInterval)
                {
                    return _snapshot;
                }

                _checkedAt = now;
                var stamp = Stamp(Path);
                if (_snapshot is not null && stamp == _stamp)
                {
                    return _snapshot;
                }

                try
                {
                    _snapshot = Read(stamp);
                }
                catch (FormatException) when (_snapshot is not null)
                {
                    // Caught while being rewritten in place: keep what we had, look again next time.
                    return _snapshot;
                }

                _stamp = stamp;
                return _snapshot;
            }
        }
    }

    /// <summary>Makes the next <see cref="Current"/> look at the file (after a registry refused its credentials).</summary>
    public void Recheck()
    {
        lock (_lock)
        {
            _checkedAt = DateTimeOffset.MinValue;
        }
    }

    private DockerConfigSnapshot Read(FileStamp? stamp)
    {
        if (stamp is null)
        {
            return DockerConfigSnapshot.Empty;
        }

        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(Path);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return DockerConfigSnapshot.Empty;
        }

        if (bytes.Length > DockerConfigCredentials.MaxConfigBytes)
        {
            throw new FormatException($"Docker config '{Path}' is over {DockerConfigCredentials.MaxConfigBytes} bytes.");
        }

        string source = AuthsSource;
        var auths = DockerConfigCredentials.Parse(bytes, Path).ToDictionary(
            pair => pair.Key, pair => pair.Value with { Source = source }, StringComparer.OrdinalIgnoreCase);
        var (helpers, defaultHelper) = DockerConfigCredentials.ParseHelpers(bytes);
        return new DockerConfigSnapshot(auths, helpers, defaultHelper);
    }

    // Opening follows symbolic links, as reading does (a Kubernetes secret volume is a chain of them); null when absent.
    private static FileStamp? Stamp(string path)
    {
        try
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            var status = LibC.Fstat((int)handle.DangerousGetHandle());
            return new FileStamp(status.DevMajor, status.DevMinor, status.Inode, status.Size, status.MtimeSeconds, status.MtimeNanoseconds);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    private readonly record struct FileStamp(uint DevMajor, uint DevMinor, ulong Inode, long Size, long MtimeSeconds, uint MtimeNanoseconds);
}
