using Microsoft.Extensions.Configuration;

namespace Accelerator.Oci.Registry;

public sealed partial class RegistryOptions
{
    private const string HostsKey = nameof(Hosts);
    private const string HostKey = "Host";

    /// <summary>
    /// Sets these options from <paramref name="configuration"/> (for example the <c>Registries</c> section of
    /// appsettings.json). Every property binds by its name. <see cref="Hosts"/> takes an array of entries, each a
    /// <see cref="RegistryHostOptions"/> plus the <c>Host</c> it is for, because configuration keys are split at
    /// ':' and so cannot hold a <c>host:port</c>:
    /// <code>
    /// "Registries": {
    ///   "MaxRetries": 2,
    ///   "Hosts": [
    ///     { "Host": "localhost:5000", "PlainHttp": true },
    ///     { "Host": "registry.example.com", "Username": "ci", "Password": "..." }
    ///   ]
    /// }
    /// </code>
    /// An object keyed by host (<c>"Hosts": { "registry.example.com": { ... } }</c>) works for hosts without a port.
    /// Entries for a host already in <see cref="Hosts"/> are merged into it, so code and configuration can both add
    /// to one host.
    /// </summary>
    /// <param name="configuration">The section holding the options.</param>
    /// <exception cref="InvalidOperationException">A list entry without <c>Host</c>, or a <c>host:port</c> used as a key (which configuration splits into two keys).</exception>
    public void Bind(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var entries = new List<IConfigurationSection>();
        foreach (var child in configuration.GetSection(HostsKey).GetChildren())
        {
            if (IsIndex(child.Key))
            {
                entries.Add(child);
            }
            else if (child.GetChildren().FirstOrDefault(c => IsIndex(c.Key)) is { } port)
            {
                // "localhost:5000": { ... } arrives as "localhost" holding "5000".
                throw new InvalidOperationException(
                    $"{child.Path}: '{child.Key}:{port.Key}' cannot be a configuration key (':' separates keys); list it as \"{HostsKey}\": [ {{ \"{HostKey}\": \"{child.Key}:{port.Key}\", ... }} ].");
            }
        }

        ConfigurationBinder.Bind(configuration, this);
        foreach (var entry in entries)
        {
            // The binder stored the entry under its list index; move it to its host.
            Hosts.Remove(entry.Key);
            string host = entry[HostKey] is { Length: > 0 } value
                ? value
                : throw new InvalidOperationException($"{entry.Path}: a registry host entry needs \"{HostKey}\" (host[:port]).");
            if (!Hosts.TryGetValue(host, out var options) || options is null)
            {
                options = new RegistryHostOptions();
                Hosts[host] = options;
            }

            entry.Bind(options);
        }
    }

    private static bool IsIndex(string key) => key.Length > 0 && key.All(char.IsAsciiDigit);
}
