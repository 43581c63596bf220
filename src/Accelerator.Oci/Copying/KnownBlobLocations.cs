using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;

namespace Accelerator.Oci.Copying;

/// <summary>
/// Remembers, per registry, a repository known to hold each blob, so that a later copy into another repository of the
/// same registry can mount the blob (<c>POST …/blobs/uploads/?mount=…&amp;from=…</c>) instead of uploading it again.
/// Share one instance across copies (<see cref="CopyOptions.BlobLocations"/>). Thread-safe and bounded: past
/// <see cref="Capacity"/> entries new locations are not recorded (a missed mount costs an upload, never correctness).
/// </summary>
public sealed class KnownBlobLocations
{
    private readonly ConcurrentDictionary<(string Registry, Digest Digest), string> _locations = new();

    /// <summary>Creates an empty record holding at most <paramref name="capacity"/> blobs.</summary>
    public KnownBlobLocations(int capacity = 100_000)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
    }

    /// <summary>The most blobs recorded.</summary>
    public int Capacity { get; }

    /// <summary>The blobs recorded.</summary>
    public int Count => _locations.Count;

    /// <summary>Records that <paramref name="repository"/> of <paramref name="registry"/> holds <paramref name="digest"/>.</summary>
    public void Add(string registry, string repository, Digest digest)
    {
        ArgumentException.ThrowIfNullOrEmpty(registry);
        ArgumentException.ThrowIfNullOrEmpty(repository);
        var key = (registry.ToLowerInvariant(), digest);
        if (_locations.ContainsKey(key) || _locations.Count < Capacity)
        {
            _locations[key] = repository;
        }
    }

    /// <summary>A repository of <paramref name="registry"/> other than <paramref name="exceptRepository"/> that holds <paramref name="digest"/>.</summary>
    public bool TryGetOther(string registry, Digest digest, string exceptRepository, [NotNullWhen(true)] out string? repository)
    {
        ArgumentException.ThrowIfNullOrEmpty(registry);
        if (_locations.TryGetValue((registry.ToLowerInvariant(), digest), out repository) && repository != exceptRepository)
        {
            return true;
        }

        repository = null;
        return false;
    }
}
