namespace Accelerator.Block.Nbd;

/// <summary>Options of an <see cref="NbdServer"/>.</summary>
public sealed class NbdServerOptions
{
    /// <summary>How long a client may take from connecting to entering transmission; then it is disconnected.</summary>
    /// <value>Default 10 s.</value>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The most connections served at once; further clients are disconnected at once.</summary>
    /// <value>Default 64.</value>
    public int MaxConnections { get; set; } = 64;

    /// <summary>The most requests of one connection served concurrently (the rest wait to be read).</summary>
    /// <value>Default 32.</value>
    public int MaxRequestsInFlight { get; set; } = 32;

    /// <summary>How long stopping waits for requests in flight before closing connections.</summary>
    /// <value>Default 10 s.</value>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The export served for the empty name ("default export"). Null serves the only export when there is exactly one.
    /// </summary>
    /// <value>Default <see langword="null"/>.</value>
    public string? DefaultExport { get; set; }

    /// <summary>Throws <see cref="ArgumentException"/> naming every invalid option.</summary>
    public void Validate()
    {
        var failures = new List<string>();
        if (HandshakeTimeout <= TimeSpan.Zero)
        {
            failures.Add($"{nameof(HandshakeTimeout)} must be positive.");
        }

        if (MaxConnections < 1)
        {
            failures.Add($"{nameof(MaxConnections)} must be at least 1.");
        }

        if (MaxRequestsInFlight is < 1 or > 1024)
        {
            failures.Add($"{nameof(MaxRequestsInFlight)} must be 1 to 1024.");
        }

        if (ShutdownTimeout < TimeSpan.Zero)
        {
            failures.Add($"{nameof(ShutdownTimeout)} must not be negative.");
        }

        if (failures.Count > 0)
        {
            throw new ArgumentException("Invalid NBD server options: " + string.Join(" ", failures));
        }
    }
}
