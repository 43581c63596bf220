using Accelerator.Lazy.Reading;

namespace Accelerator.Lazy.Mounting;

/// <summary>Options of the lazy mount strategy.</summary>
public sealed class LazyMountOptions
{
    /// <summary>
    /// Where verified chunks are cached; shared by mounts and kept across restarts.
    /// <value>Default: <c>/var/cache/accel/chunks</c> when it can be created, else a directory under the temp path.</value>
    /// </summary>
    public string? CacheDirectory { get; set; }

    /// <summary>The most bytes the chunk cache keeps (0: no bound). <value>Default: 0.</value></summary>
    public long CacheMaxBytes { get; set; }

    /// <summary>
    /// Where each mount's private directories (the FUSE lower tree, overlay upper and work) are made.
    /// <value>Default: <c>/run/accel</c> when it can be created, else the temp path.</value>
    /// </summary>
    public string? StateDirectory { get; set; }

    /// <summary>Fetch limits of the reader. <value>Default: <see cref="LazyReaderOptions"/> defaults.</value></summary>
    public LazyReaderOptions Reader { get; set; } = new();

    /// <summary>Prefetch the image's prefetch list in the background once mounted. <value>Default: true.</value></summary>
    public bool Prefetch { get; set; } = true;

    /// <summary>
    /// How long a FUSE read may wait for its chunks before the reader gets EIO (a dead or hung backend never blocks a
    /// reader forever). <value>Default: 2 minutes.</value>
    /// </summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>When set, the mount's statistics are written there as JSON when it is unmounted (<c>--stats-json</c>).</summary>
    public string? StatisticsJsonPath { get; set; }

    /// <summary>When set, the files read are written there as a prefetch list when unmounted (<c>--record-trace</c>).</summary>
    public string? TracePath { get; set; }

    /// <summary>Checks the options.</summary>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Reader);
        Reader.Validate();
        if (CacheMaxBytes < 0)
        {
            throw new ArgumentException($"{nameof(CacheMaxBytes)} must not be negative.", nameof(CacheMaxBytes));
        }

        if (RequestTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException($"{nameof(RequestTimeout)} must be positive.", nameof(RequestTimeout));
        }
    }
}
