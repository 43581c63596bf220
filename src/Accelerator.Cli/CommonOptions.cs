using System.CommandLine;
using Accelerator.Cli.Console;
using Accelerator.Oci;
using Accelerator.Oci.Mirrors;
using Accelerator.Oci.Registry;
using Microsoft.Extensions.DependencyInjection;

namespace Accelerator.Cli;

/// <summary>Options every command that talks to a registry accepts.</summary>
internal sealed class CommonOptions
{
    public Option<bool> PlainHttp { get; } = new("--plain-http")
    {
        Description = "Talk to registries over plain HTTP (only for registries you trust, e.g. on loopback).",
        Recursive = true,
    };

    public Option<string?> Platform { get; } = new("--platform")
    {
        Description = "The platform to select from multi-platform images, os/arch[/variant] (default: this machine's).",
        Recursive = true,
    };

    public Option<string[]> Mirror { get; } = new("--mirror")
    {
        Description = "A mirror to read images from before their registry (repeatable; tried in the given order, load-balanced, with the registry as fallback). "
            + "https://HOST[:PORT][/PATH], or http:// for plain HTTP to that mirror only. Mirrors serve content by digest; tags resolve at the registry.",
        Recursive = true,
        Arity = ArgumentArity.ZeroOrMore,
    };

    public Option<string?> HostsDirectory { get; } = new("--hosts-dir")
    {
        Description = "A containerd hosts directory (DIR/HOST/hosts.toml, DIR/_default/hosts.toml) with registry mirrors, e.g. /etc/containerd/certs.d.",
        Recursive = true,
    };

    public Option<string?> P2P { get; } = new("--p2p")
    {
        Description = "Read registry blobs through the local P2P peer's registry-mirror proxy at URL (its --proxy, e.g. http://127.0.0.1:65001), "
            + "falling back to the mirrors and the registry when the peer cannot answer. Manifests still resolve at the registry.",
        Recursive = true,
        HelpName = "URL",
    };

    public Option<string?> AuthFile { get; } = new("--auth-file")
    {
        Description = "Registry credentials in docker's config.json format (auths: auth, or username and password, or identitytoken; "
            + "else the credHelpers/credsStore helper it names), for every registry the command talks to. Default: $DOCKER_CONFIG/config.json, else ~/.docker/config.json.",
        Recursive = true,
        HelpName = "FILE",
    };

    public void AddTo(Command command)
    {
        command.Options.Add(PlainHttp);
        command.Options.Add(AuthFile);
        command.Options.Add(Platform);
        command.Options.Add(Mirror);
        command.Options.Add(HostsDirectory);
        command.Options.Add(P2P);
    }

    /// <summary>The platform the user asked for, or null for the current one.</summary>
    public Accelerator.Platform? GetPlatform(ParseResult result)
        => result.GetValue(Platform) is { Length: > 0 } text ? Accelerator.Platform.Parse(text) : null;

    /// <summary>
    /// The registry client options of the command line: plain HTTP and where the credentials come from. An
    /// <c>--auth-file</c> that does not exist is an error (the default file may be missing: then no credentials).
    /// </summary>
    public RegistryOptions CreateRegistryOptions(ParseResult result)
    {
        string? authFile = result.GetValue(AuthFile) is { Length: > 0 } path ? Path.GetFullPath(path) : null;
        if (authFile is not null && !File.Exists(authFile))
        {
            throw new FileNotFoundException($"--auth-file: {authFile} does not exist.");
        }

        return new RegistryOptions { PlainHttp = result.GetValue(PlainHttp), DockerConfigPath = authFile };
    }

    /// <summary>
    /// The accelerator builder the common flags describe, translated into builder calls only: the registry client
    /// (<c>--plain-http</c>, <c>--auth-file</c>), mirror sets (<c>--mirror</c>, <c>--hosts-dir</c>: <c>UseMirrors</c>) and
    /// P2P (<c>--p2p</c>: <c>UseP2P</c>). Commands add their strategies and take every part — the
    /// <see cref="ImageStoreResolver"/> above all (see <see cref="GetStores"/>) — from the built accelerator's services,
    /// so the blob-source chain is the one the builder composes. A bad <c>--mirror</c> or <c>--p2p</c> URL throws one
    /// clear error naming the flag here; a bad hosts.toml fails <see cref="ImageAcceleratorBuilder.Build"/> with its file
    /// and line.
    /// </summary>
    public ImageAcceleratorBuilder CreateBuilder(ParseResult result) => Configure(new ImageAcceleratorBuilder(), result);

    /// <summary>
    /// Adds what the common flags describe (see <see cref="CreateBuilder"/>) to <paramref name="builder"/>, e.g. one a
    /// daemon composes over its own services. A flag that was not given changes nothing already configured.
    /// </summary>
    public ImageAcceleratorBuilder Configure(ImageAcceleratorBuilder builder, ParseResult result)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var registry = CreateRegistryOptions(result);
        bool plainHttp = result.GetResult(PlainHttp) is not null;
        bool authFile = result.GetResult(AuthFile) is not null;
        builder.ConfigureRegistries(o =>
        {
            o.PlainHttp = plainHttp ? registry.PlainHttp : o.PlainHttp;
            o.DockerConfigPath = authFile ? registry.DockerConfigPath : o.DockerConfigPath;
        });
        var mirrors = new List<MirrorEndpoint>();
        foreach (string url in result.GetValue(Mirror) ?? [])
        {
            try
            {
                mirrors.Add(MirrorEndpoint.Parse(url));
            }
            catch (FormatException ex)
            {
                throw new FormatException($"--mirror {ex.Message}", ex);
            }
        }

        string? hostsDirectory = result.GetValue(HostsDirectory);
        if (mirrors.Count > 0 || hostsDirectory is not null)
        {
            builder.UseMirrors(o =>
            {
                o.HostsDirectory = hostsDirectory;
                foreach (var mirror in mirrors)
                {
                    o.Mirrors.Add(mirror);
                }
            });
        }

        if (result.GetValue(P2P) is { } proxy)
        {
            builder.UseP2P(ParseP2P(proxy));
        }

        return builder;
    }

    /// <summary>The image store resolver of a built accelerator: the blob-source chain its builder composed.</summary>
    public static ImageStoreResolver GetStores(ImageAcceleratorHost accelerator)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        return accelerator.Services.GetRequiredService<ImageStoreResolver>();
    }

    private static Uri ParseP2P(string text)
    {
        var options = new Accelerator.P2P.P2POptions { Proxy = Uri.TryCreate(text, UriKind.Absolute, out var url) ? url : null };
        return url is null || new Accelerator.P2P.P2POptionsValidator().Validate(null, options).Failed
            ? throw new FormatException($"--p2p: '{text}' is not the http(s) URL of a peer's registry-mirror proxy.")
            : url;
    }

    /// <summary>
    /// Wraps a command's work: one clear error line and exit code 1 on failure, 130 on cancellation (Ctrl+C).
    /// Set ACCEL_DEBUG=1 to see the full exception.
    /// </summary>
    public static Func<ParseResult, CancellationToken, Task<int>> Guard(CliConsole console, Func<ParseResult, CancellationToken, Task<int>> action)
        => async (result, cancellationToken) =>
        {
            try
            {
                return await action(result, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                console.Error("cancelled.");
                return 130;
            }
            catch (Exception ex)
            {
                console.Error(Describe(ex));
                if (Environment.GetEnvironmentVariable("ACCEL_DEBUG") == "1")
                {
                    System.Console.Error.WriteLine(ex);
                }

                return 1;
            }
        };

    private static string Describe(Exception ex)
    {
        // Unwrap aggregate and wrapper exceptions to the one message that says what went wrong.
        while (ex is AggregateException { InnerExceptions.Count: 1 } aggregate)
        {
            ex = aggregate.InnerExceptions[0];
        }

        string message = ex.Message.ReplaceLineEndings(" ").Trim();
        return ex is HttpRequestException && ex.InnerException is { } inner
            ? $"{message} ({inner.Message.ReplaceLineEndings(" ").Trim()})"
            : message;
    }
}
