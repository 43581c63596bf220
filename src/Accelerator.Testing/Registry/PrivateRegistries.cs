using System.Text;
using System.Text.Json;
using Accelerator.Oci.Registry;

namespace Accelerator.Testing.Registry;

/// <summary>How a <see cref="PrivateRegistries"/> registry authenticates its clients.</summary>
public enum RegistryAuthMode
{
    /// <summary><c>auth: htpasswd</c>: HTTP basic auth on every request.</summary>
    Basic,

    /// <summary><c>auth: token</c>: bearer tokens from a <see cref="RegistryTokenServer"/> that checks basic credentials.</summary>
    Token,
}

/// <summary>
/// Two real private <c>docker-registry</c> processes, one per <see cref="RegistryAuthMode"/>, that refuse anonymous
/// pulls and pushes, with one user whose password is new for each instance; plus docker <c>config.json</c> files
/// (the right credentials for both, and a wrong password) for the <c>accel</c> command line (<c>--auth-file</c>), and a
/// client with the right credentials to seed images. Start one per test class or collection; dispose stops everything.
/// </summary>
public sealed class PrivateRegistries : IAsyncDisposable
{
    /// <summary>The user both registries know.</summary>
    public const string Username = "accel-private";

    private readonly List<DockerRegistryProcess> _extra = [];
    private readonly List<string> _passwords = [];

    private PrivateRegistries(string directory, string password, RegistryTokenServer tokenServer)
    {
        Directory = directory;
        Password = password;
        _passwords.Add(password);
        TokenServer = tokenServer;
    }

    /// <summary>A temporary directory holding the config files (deleted on dispose).</summary>
    public string Directory { get; }

    /// <summary>The user's password: random, so a test can look for it in anything the tool wrote.</summary>
    public string Password { get; private set; }

    /// <summary>The token server of the <see cref="RegistryAuthMode.Token"/> registry (and of any extra token registry).</summary>
    public RegistryTokenServer TokenServer { get; }

    /// <summary>The registry with htpasswd auth.</summary>
    public DockerRegistryProcess Basic { get; private set; } = null!;

    /// <summary>The registry with token auth.</summary>
    public DockerRegistryProcess Token { get; private set; } = null!;

    /// <summary>A docker config.json with the user's credentials for every registry started here.</summary>
    public string AuthFile => Path.Combine(Directory, "right", "config.json");

    /// <summary>A docker config.json with a wrong password for every registry started here.</summary>
    public string WrongAuthFile => Path.Combine(Directory, "wrong", "config.json");

    /// <summary>A client with the right credentials for every registry started here (plain HTTP, fast retries).</summary>
    public RegistryClient Client { get; private set; } = null!;

    /// <summary>What must never appear in output, logs, errors or statistics: every password used and its basic auth parameter.</summary>
    public IReadOnlyList<string> Secrets => [.. _passwords, .. _passwords.Select(p => Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Username}:{p}")))];

    /// <summary>The registry of <paramref name="mode"/>.</summary>
    public DockerRegistryProcess Get(RegistryAuthMode mode) => mode == RegistryAuthMode.Basic ? Basic : Token;

    /// <summary>Starts the token server and both registries, and writes the config files.</summary>
    public static async Task<PrivateRegistries> StartAsync(CancellationToken cancellationToken = default)
    {
        string directory = System.IO.Directory.CreateTempSubdirectory("accel-private-").FullName;
        string password = "pw-" + Guid.NewGuid().ToString("N");
        var tokenServer = await RegistryTokenServer.StartAsync(Username, password, cancellationToken).ConfigureAwait(false);
        tokenServer.AllowAnonymousPull = false;
        var registries = new PrivateRegistries(directory, password, tokenServer);
        try
        {
            var basic = DockerRegistryProcess.StartAsync(registries.BasicOptions(), cancellationToken);
            var token = DockerRegistryProcess.StartAsync(registries.TokenOptions(), cancellationToken);
            registries.Basic = await basic.ConfigureAwait(false);
            registries.Token = await token.ConfigureAwait(false);
            registries.WriteConfigs();
            return registries;
        }
        catch
        {
            await registries.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Starts one more registry of <paramref name="mode"/> with the same user (and the same token server), set up further
    /// by <paramref name="configure"/> (e.g. notifications); the config files and <see cref="Client"/> then cover it too.
    /// It is stopped on dispose.
    /// </summary>
    public async Task<DockerRegistryProcess> StartAnotherAsync(RegistryAuthMode mode, Action<DockerRegistryOptions>? configure = null, CancellationToken cancellationToken = default)
    {
        var options = mode == RegistryAuthMode.Basic ? BasicOptions() : TokenOptions();
        configure?.Invoke(options);
        var registry = await DockerRegistryProcess.StartAsync(options, cancellationToken).ConfigureAwait(false);
        lock (_extra)
        {
            _extra.Add(registry);
            WriteConfigs();
        }

        return registry;
    }

    /// <summary>
    /// Rotates the user's password at every registry started here (the htpasswd files, which docker-registry reads again
    /// on change, and the token server) and writes the new one into <see cref="AuthFile"/> (replaced by rename, as
    /// <c>docker login</c> does) and <see cref="Client"/>. Returns the new password.
    /// </summary>
    public async Task<string> RotatePasswordAsync(CancellationToken cancellationToken = default)
    {
        string password = "pw-" + Guid.NewGuid().ToString("N");
        foreach (var registry in All.Where(r => File.Exists(r.HtpasswdPath)))
        {
            await registry.SetHtpasswdUsersAsync(new Dictionary<string, string> { [Username] = password }, cancellationToken).ConfigureAwait(false);
        }

        TokenServer.Password = password;
        lock (_extra)
        {
            Password = password;
            _passwords.Add(password);
            WriteConfigs();
        }

        return password;
    }

    private DockerRegistryOptions BasicOptions() => new() { HtpasswdUsers = new Dictionary<string, string> { [Username] = Password } };

    private DockerRegistryOptions TokenOptions() => new() { TokenAuth = TokenServer.RegistryAuth };

    private IEnumerable<DockerRegistryProcess> All => new[] { Basic, Token }.Concat(_extra);

    private void WriteConfigs()
    {
        WriteConfig(AuthFile, Password);
        WriteConfig(WrongAuthFile, "not-" + Password[3..]);
        var previous = Client;
        Client = new RegistryClient(TestRegistryOptions.Create(o =>
        {
            foreach (var registry in All)
            {
                o.Hosts[registry.Host] = new RegistryHostOptions { PlainHttp = true, Username = Username, Password = Password };
            }
        }));
        previous?.Dispose();
    }

    // docker's form: auths.HOST.auth = base64(user:password).
    private void WriteConfig(string path, string password)
    {
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        string auth = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Username}:{password}"));
        var auths = All.ToDictionary(r => r.Host, _ => new { auth });
        string temp = path + ".new";
        File.WriteAllText(temp, JsonSerializer.Serialize(new { auths }));
        File.Move(temp, path, overwrite: true);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (var registry in All.Where(r => r is not null))
        {
            await registry.DisposeAsync().ConfigureAwait(false);
        }

        await TokenServer.DisposeAsync().ConfigureAwait(false);
        Client?.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
