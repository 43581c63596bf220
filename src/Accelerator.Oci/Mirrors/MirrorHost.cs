using Accelerator.Oci.Registry;

namespace Accelerator.Oci.Mirrors;

/// <summary>One host (mirror or origin) as the mirror sets see it: its client, health and counters, shared by every set that names it.</summary>
internal sealed class MirrorHost(string key, RegistryClient client, HostHealth health)
{
    private long _requests;
    private long _failures;
    private long _bytes;
    private long _blobs;
    private int _outstanding;

    /// <summary>The registry host key.</summary>
    public string Key { get; } = key;

    /// <summary>The client to reach it with (mirrors: without retries, so a failure moves on at once).</summary>
    public RegistryClient Client { get; } = client;

    public HostHealth Health { get; } = health;

    public int Outstanding => Volatile.Read(ref _outstanding);

    /// <summary>Counts a request in flight until the returned scope is disposed.</summary>
    public Scope Begin()
    {
        Interlocked.Increment(ref _requests);
        Interlocked.Increment(ref _outstanding);
        return new Scope(this);
    }

    public void AddBytes(long bytes) => Interlocked.Add(ref _bytes, bytes);

    public void AddBlob() => Interlocked.Increment(ref _blobs);

    public void AddFailure() => Interlocked.Increment(ref _failures);

    public MirrorHostStatistics Snapshot() => new(
        Key,
        Interlocked.Read(ref _requests),
        Interlocked.Read(ref _failures),
        Interlocked.Read(ref _bytes),
        Interlocked.Read(ref _blobs),
        Outstanding,
        Health.OpenUntil);

    /// <summary>A request in flight.</summary>
    public sealed class Scope(MirrorHost host) : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0)
            {
                Interlocked.Decrement(ref host._outstanding);
            }
        }
    }
}

/// <summary>A host as one registry's mirror set uses it: with that set's capabilities, as a mirror or as the origin.</summary>
internal sealed class MirrorRoute(MirrorHost host, MirrorCapabilities capabilities, bool isOrigin)
{
    public MirrorHost Host { get; } = host;

    public MirrorCapabilities Capabilities { get; } = capabilities;

    /// <summary>Whether this is the set's server (the fallback), not one of its mirrors.</summary>
    public bool IsOrigin { get; } = isOrigin;

    public string Key => Host.Key;

    /// <summary>The source name in statistics: <c>origin</c> or <c>mirror:HOST</c>.</summary>
    public string SourceName { get; } = isOrigin ? "origin" : "mirror:" + host.Key;

    public bool Can(MirrorCapabilities capability) => (Capabilities & capability) == capability;

    public override string ToString() => SourceName;
}
