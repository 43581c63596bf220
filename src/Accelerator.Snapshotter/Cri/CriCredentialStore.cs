using System.Text.Json;
using System.Text.Json.Serialization;
using Accelerator.Linux;
using Accelerator.Oci.Registry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Accelerator.Snapshotter.Cri;

/// <summary>
/// The credentials CRI pull requests carried, per registry and repository: what the node daemon's registry client
/// asks first (<see cref="IRegistryCredentialSource"/>), so that lazy reads after a pull are authorised as the pull
/// was. Kept in memory and in <c>STATE/credentials.json</c> (0600 in a 0700 directory, written atomically and
/// durably), so they survive a restart of the daemon.
/// </summary>
/// <remarks>
/// A credential is found only for the exact (registry, repository) it was given for. It is offered while its pull
/// runs (containerd's CRI plugin prepares snapshots during the pull, and a remote snapshot reads the registry then);
/// if the pull fails, the previous credential of that repository comes back, and only a successful pull is written
/// to disk. Secrets are never logged.
/// </remarks>
public sealed partial class CriCredentialStore : IRegistryCredentialSource
{
    /// <summary>The file the credentials are kept in, under <see cref="CriProxyOptions.StateDirectory"/>.</summary>
    public const string FileName = "credentials.json";

    private const int MaxFileBytes = 16 * 1024 * 1024;
    private const int MaxNameLength = 4096;
    private const UnixFileMode SecretMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private readonly Lock _lock = new();
    private readonly Dictionary<(string Registry, string Repository), Entry> _entries = [];
    private readonly string _directory;
    private readonly int _capacity;
    private readonly ILogger _logger;
    private long _sequence;

    /// <summary>Opens the store in <see cref="CriProxyOptions.StateDirectory"/> (created 0700), loading what an earlier run kept.</summary>
    public CriCredentialStore(IOptions<CriProxyOptions> options, ILogger<CriCredentialStore>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _directory = PrivateDirectory.Create(options.Value.StateDirectory);
        _capacity = options.Value.MaxCredentials;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        Load();
    }

    /// <summary>The path of the file the credentials are kept in.</summary>
    public string FilePath => Path.Combine(_directory, FileName);

    /// <summary>How many (registry, repository) credentials are kept.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _entries.Count;
            }
        }
    }

    /// <inheritdoc />
    public RegistryCredentials? Find(string registry, string repository)
    {
        lock (_lock)
        {
            return _entries.TryGetValue(Key(registry, repository), out var entry) ? entry.Credentials : null;
        }
    }

    /// <summary>
    /// Offers <paramref name="credentials"/> for (<paramref name="registry"/>, <paramref name="repository"/>) while a pull
    /// runs. Dispose the returned offer with <see cref="Offer.Complete"/> called when the pull succeeded (then it is kept
    /// and written to disk), or without (the previous credential comes back). The newest credential of a repository wins:
    /// the registry client asks on every request, so lazy reads of the image use it from their next request on.
    /// </summary>
    /// <param name="registry">The registry host key.</param>
    /// <param name="repository">The repository.</param>
    /// <param name="credentials">What the pull request carried.</param>
    /// <param name="image">The image the pull named, for <see cref="RegistryCredentials.Source"/> (default: registry/repository).</param>
    public Offer Give(string registry, string repository, RegistryCredentials credentials, string? image = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(registry);
        ArgumentException.ThrowIfNullOrEmpty(repository);
        ArgumentNullException.ThrowIfNull(credentials);
        if (registry.Length > MaxNameLength || repository.Length > MaxNameLength)
        {
            throw new ArgumentException("The registry or repository name is too long.");
        }

        var key = Key(registry, repository);
        Entry? previous;
        Entry given;
        lock (_lock)
        {
            _entries.TryGetValue(key, out previous);
            given = new Entry(key.Registry, key.Repository, credentials with { Source = $"the CRI pull of image {image ?? $"{registry}/{repository}"}" }, ++_sequence);
            _entries[key] = given;
        }

        return new Offer(this, key, previous, given);
    }

    private void Settle(Offer offer, bool succeeded)
    {
        lock (_lock)
        {
            bool stillOurs = _entries.TryGetValue(offer.Key, out var current) && ReferenceEquals(current, offer.Given);
            if (!succeeded)
            {
                if (stillOurs)
                {
                    if (offer.Previous is { } previous)
                    {
                        _entries[offer.Key] = previous;
                    }
                    else
                    {
                        _entries.Remove(offer.Key);
                    }
                }

                return;
            }

            if (!stillOurs)
            {
                // A later pull of the same repository gave another credential meanwhile; it decides.
                return;
            }

            while (_entries.Count > _capacity)
            {
                var oldest = _entries.Values.MinBy(e => e.Sequence)!;
                _entries.Remove((oldest.Registry, oldest.Repository));
            }

            Save();
        }

        LogKept(_logger, offer.Key.Registry, offer.Key.Repository, CriAuth.Describe(offer.Given.Credentials));
    }

    private static (string Registry, string Repository) Key(string registry, string repository)
        => (registry.ToLowerInvariant(), repository);

    // Under _lock.
    private void Save()
    {
        var document = new CredentialsDocument
        {
            Version = 1,
            Entries = [.. _entries.Values.OrderBy(e => e.Sequence).Select(e => new CredentialsEntry
            {
                Registry = e.Registry,
                Repository = e.Repository,
                Username = e.Credentials.Username,
                Password = e.Credentials.Password,
                IdentityToken = e.Credentials.IdentityToken,
                RegistryToken = e.Credentials.RegistryToken,
            })],
        };
        byte[] bytes = JsonSerializer.SerializeToUtf8Bytes(document, CriCredentialsJson.Default.CredentialsDocument);
        string temp = Path.Combine(_directory, $".{FileName}.{Guid.NewGuid():N}.tmp");
        try
        {
            var create = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                // Created 0600: a umask cannot widen it.
                create.UnixCreateMode = SecretMode;
            }

            using (var file = new FileStream(temp, create))
            {
                file.Write(bytes);
                file.Flush(flushToDisk: true);
            }

            File.Move(temp, FilePath, overwrite: true);
        }
        finally
        {
            File.Delete(temp);
        }

        DurableFile.SyncDirectory(_directory);
    }

    private void Load()
    {
        if (!File.Exists(FilePath))
        {
            return;
        }

        try
        {
            // Older or hand-made files are tightened: the file holds passwords.
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(FilePath, SecretMode);
            }

            using var file = File.OpenRead(FilePath);
            if (file.Length > MaxFileBytes)
            {
                throw new InvalidDataException($"it is larger than {MaxFileBytes} bytes");
            }

            var document = JsonSerializer.Deserialize(file, CriCredentialsJson.Default.CredentialsDocument)
                ?? throw new InvalidDataException("it is empty");
            foreach (var e in document.Entries ?? [])
            {
                if (e.Registry is not { Length: > 0 and <= MaxNameLength } registry || e.Repository is not { Length: > 0 and <= MaxNameLength } repository
                    || !ImageReference.TryParse($"{registry}/{repository}", out var parsed)
                    || !string.Equals(parsed.Registry, registry, StringComparison.OrdinalIgnoreCase) || parsed.Repository != repository)
                {
                    throw new InvalidDataException("an entry names no valid registry and repository");
                }

                if (new[] { e.Username, e.Password, e.IdentityToken, e.RegistryToken }.Any(f => f?.Length > CriAuth.MaxFieldLength))
                {
                    throw new InvalidDataException("an entry has a field that is too long");
                }

                var key = Key(registry, repository);
                _entries[key] = new Entry(key.Registry, key.Repository,
                    new RegistryCredentials(e.Username, e.Password, e.IdentityToken)
                    {
                        RegistryToken = e.RegistryToken,
                        Source = $"the CRI pull of image {registry}/{repository} (kept in {FilePath})",
                    }, ++_sequence);
            }

            LogLoaded(_logger, _entries.Count, FilePath);
        }
        catch (Exception ex) when (ex is JsonException or InvalidDataException or IOException)
        {
            // The credentials are a cache of what kubelet sends with each pull: the next pull gives them again.
            _entries.Clear();
            LogUnreadable(_logger, FilePath, ex.Message);
        }
    }

    /// <summary>A credential offered while one pull runs; see <see cref="Give"/>.</summary>
    public sealed class Offer : IDisposable
    {
        private readonly CriCredentialStore _store;
        private bool _succeeded;
        private bool _settled;

        internal Offer(CriCredentialStore store, (string Registry, string Repository) key, Entry? previous, Entry given)
        {
            _store = store;
            Key = key;
            Previous = previous;
            Given = given;
        }

        internal (string Registry, string Repository) Key { get; }

        internal Entry? Previous { get; }

        internal Entry Given { get; }

        /// <summary>Marks the pull as succeeded: the credential is kept and written to disk when the offer is disposed.</summary>
        public void Complete() => _succeeded = true;

        /// <summary>Keeps the credential (after <see cref="Complete"/>) or brings the previous one back.</summary>
        public void Dispose()
        {
            if (!_settled)
            {
                _settled = true;
                _store.Settle(this, _succeeded);
            }
        }
    }

    internal sealed record Entry(string Registry, string Repository, RegistryCredentials Credentials, long Sequence);

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "CRI credentials kept for {Registry}/{Repository} ({Kind}).")]
    private static partial void LogKept(ILogger logger, string registry, string repository, string kind);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Loaded CRI credentials of {Count} repositories from {Path}.")]
    private static partial void LogLoaded(ILogger logger, int count, string path);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "Ignoring the CRI credentials file {Path}: {Reason}; pulls will give them again.")]
    private static partial void LogUnreadable(ILogger logger, string path, string reason);
}

/// <summary>The file <see cref="CriCredentialStore"/> writes.</summary>
internal sealed class CredentialsDocument
{
    public int Version { get; set; }

    public List<CredentialsEntry>? Entries { get; set; }
}

/// <summary>One (registry, repository) credential in <see cref="CredentialsDocument"/>.</summary>
internal sealed class CredentialsEntry
{
    public string? Registry { get; set; }

    public string? Repository { get; set; }

    public string? Username { get; set; }

    public string? Password { get; set; }

    public string? IdentityToken { get; set; }

    public string? RegistryToken { get; set; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, MaxDepth = 8)]
[JsonSerializable(typeof(CredentialsDocument))]
internal sealed partial class CriCredentialsJson : JsonSerializerContext;
