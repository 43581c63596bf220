namespace Accelerator.Oci.Mirrors;

/// <summary>
/// Reads containerd's hosts directory (<c>config_path</c>, <c>ctr --hosts-dir</c>): one subdirectory per registry
/// namespace holding a <c>hosts.toml</c> — <c>docker.io</c>, <c>myregistry.io_5000_</c> or <c>myregistry.io:5000</c>
/// for a port (the first spelling wins, as in containerd), and <c>_default</c> for registries without their own.
/// Subdirectories without a hosts.toml (certificate-only layouts) are skipped.
/// </summary>
public static class HostsDirectory
{
    /// <summary>The most namespaces read.</summary>
    public const int MaxNamespaces = 4096;

    /// <summary>The file each namespace directory holds.</summary>
    public const string FileName = "hosts.toml";

    /// <summary>
    /// Loads every namespace of <paramref name="directory"/>, keyed by registry <c>host[:port]</c> (or <c>_default</c>).
    /// Throws <see cref="DirectoryNotFoundException"/> when the directory is missing and <see cref="HostsFileException"/>
    /// for the first malformed file.
    /// </summary>
    public static IReadOnlyDictionary<string, HostsFile> Load(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (!Directory.Exists(directory))
        {
            throw new DirectoryNotFoundException($"The hosts directory {directory} does not exist.");
        }

        var result = new Dictionary<string, HostsFile>(StringComparer.OrdinalIgnoreCase);
        // containerd looks for host_port_ before host:port; sorting the underscore form first keeps that precedence.
        var candidates = Directory.EnumerateDirectories(directory)
            .Select(path => (Path: path, Namespace: NamespaceOf(System.IO.Path.GetFileName(path))))
            .Where(c => c.Namespace is not null)
            .OrderBy(c => c.Namespace, StringComparer.OrdinalIgnoreCase)
            .ThenBy(c => System.IO.Path.GetFileName(c.Path).EndsWith('_') ? 0 : 1)
            .ToList();
        foreach (var (path, ns) in candidates)
        {
            string file = System.IO.Path.Combine(path, FileName);
            if (result.ContainsKey(ns!) || !File.Exists(file))
            {
                continue;
            }

            if (result.Count == MaxNamespaces)
            {
                throw new HostsFileException(directory, 0, 0, $"more than {MaxNamespaces} namespaces");
            }

            result[ns!] = HostsFile.Load(file, ns);
        }

        return result;
    }

    /// <summary>The registry namespace a directory name stands for, or null when it names none.</summary>
    public static string? NamespaceOf(string directoryName)
    {
        ArgumentNullException.ThrowIfNull(directoryName);
        if (directoryName == MirrorOptions.DefaultNamespace)
        {
            return directoryName;
        }

        string name = directoryName;
        // containerd writes host:port as host_port_ (a colon is awkward in paths).
        if (name.Length > 2 && name.EndsWith('_'))
        {
            int underscore = name.LastIndexOf('_', name.Length - 2);
            if (underscore > 0 && name.AsSpan(underscore + 1, name.Length - underscore - 2) is { Length: > 0 } port && port.IndexOfAnyExceptInRange('0', '9') < 0)
            {
                name = $"{name[..underscore]}:{port}";
            }
        }

        return MirrorConfiguration.IsRegistryKey(name) ? name : null;
    }
}
