namespace Accelerator.Testing.Processes;

/// <summary>How a test's private containerd is configured.</summary>
public sealed class ContainerdProcessOptions
{
    /// <summary>Snapshotters served by other processes: name → unix socket (<c>[proxy_plugins.NAME] type = "snapshot"</c>).</summary>
    public IDictionary<string, string> ProxySnapshotters { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Whether the CRI plugin runs (it is disabled by default). <value>Default: false.</value></summary>
    public bool EnableCri { get; set; }

    /// <summary>
    /// TOML appended to the configuration (e.g. the CRI plugin's section); <c>{directory}</c> is replaced by the
    /// process's temporary directory.
    /// </summary>
    public string? ExtraConfiguration { get; set; }
}
