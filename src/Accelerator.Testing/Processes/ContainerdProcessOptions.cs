namespace Accelerator.Testing.Processes;

/// <summary>How a test's private containerd is configured.</summary>
public sealed class ContainerdProcessOptions
{
    /// <summary>Snapshotters served by other processes: name → unix socket (<c>[proxy_plugins.NAME] type = "snapshot"</c>).</summary>
    public IDictionary<string, string> ProxySnapshotters { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Whether the CRI plugin runs (it is disabled by default; <see cref="Cri"/> enables it too). <value>Default: false.</value></summary>
    public bool EnableCri { get; set; }

    /// <summary>
    /// The CRI plugin's configuration; when set, CRI runs with it (and the process removes the pods' tasks and
    /// containers in the <c>k8s.io</c> namespace when disposed). <value>Default: null.</value>
    /// </summary>
    public ContainerdCriOptions? Cri { get; set; }

    /// <summary>
    /// TOML appended to the configuration (e.g. the CRI plugin's section); <c>{directory}</c> is replaced by the
    /// process's temporary directory.
    /// </summary>
    public string? ExtraConfiguration { get; set; }
}
