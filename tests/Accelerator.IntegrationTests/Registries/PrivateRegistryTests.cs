using Accelerator.Linux;
using System.Text.Json;
using Accelerator.IntegrationTests.Cli;
using Accelerator.IntegrationTests.Replication;
using Accelerator.Lazy.Mounting;
using Accelerator.Testing;
using Accelerator.Testing.Images;
using Accelerator.Testing.Processes;
using Accelerator.Testing.Registry;

namespace Accelerator.IntegrationTests.Registries;

/// <summary>
/// Every <c>accel</c> path that reads or writes a registry, against private registries (htpasswd basic auth and token
/// auth) with the credentials given as <c>--auth-file</c>: pull, copy, convert (lazy and block), lazy and block mounts,
/// the snapshot cache (tree and block warm and mount, export to and import from a registry) and replication (one-shot
/// and serve). No secret may appear in what the tool writes.
/// </summary>
[Collection(PrivateRegistryCollection.Name)]
public sealed class PrivateRegistryTests(PrivateRegistryFixture fixture)
{
    private static readonly TimeSpan MountTimeout = TimeSpan.FromSeconds(90);

    private PrivateRegistries Registries => fixture.Registries;

    private string AuthFile => Registries.AuthFile;

    private static RegistryAuthMode Other(RegistryAuthMode mode) => mode == RegistryAuthMode.Basic ? RegistryAuthMode.Token : RegistryAuthMode.Basic;

    private async Task<(int ExitCode, string Out, string Error)> AccelAsync(params string[] args)
    {
        var run = await CliRunner.RunAsync(["--plain-http", "--auth-file", AuthFile, .. args]);
        fixture.AssertNoSecrets(run.Out, run.Error);
        return run;
    }

    [Theory]
    [InlineData(RegistryAuthMode.Basic)]
    [InlineData(RegistryAuthMode.Token)]
    public async Task Pull_PrivateRegistryWithAuthFile_TreeEqualsTheImage(RegistryAuthMode mode)
    {
        string target = Path.Combine(fixture.NewDirectory("pull"), "rootfs");

        var (code, output, error) = await AccelAsync("pull", fixture.Reference(mode).ToString(), target);

        Assert.True(code == 0, error);
        Assert.StartsWith($"Pulled {fixture.Reference(mode)}", output, StringComparison.Ordinal);
        fixture.AssertImageFiles(target);
    }

    [Theory]
    [InlineData(RegistryAuthMode.Basic)]
    [InlineData(RegistryAuthMode.Token)]
    public async Task Pull_WrongPassword_OneClearErrorLineWithoutSecrets(RegistryAuthMode mode)
    {
        string parent = fixture.NewDirectory("wrong");
        string target = Path.Combine(parent, "rootfs");

        var (code, output, error) = await CliRunner.RunAsync("--plain-http", "--auth-file", Registries.WrongAuthFile, "pull", fixture.Reference(mode).ToString(), target);

        Assert.Equal(1, code);
        Assert.Equal(string.Empty, output);
        string line = Assert.Single(error.TrimEnd('\n').Split('\n'));
        Assert.StartsWith("accel: error: ", line, StringComparison.Ordinal);
        Assert.Contains($"check the credentials for {Registries.Get(mode).Host}", line, StringComparison.Ordinal);
        // Issue 15: the error names where the refused credentials came from.
        Assert.Contains($"credentials from {Registries.WrongAuthFile} (auths)", line, StringComparison.Ordinal);
        Assert.DoesNotContain(" at Accelerator.", line, StringComparison.Ordinal);
        Assert.DoesNotContain("500", line, StringComparison.Ordinal);
        Assert.DoesNotContain("not-" + Registries.Password[3..], line, StringComparison.Ordinal);
        fixture.AssertNoSecrets(line);
        Assert.False(Directory.Exists(target));
    }

    [Theory]
    [InlineData(RegistryAuthMode.Basic)]
    [InlineData(RegistryAuthMode.Token)]
    public async Task Pull_NoCredentials_OneClearErrorLine(RegistryAuthMode mode)
    {
        string work = fixture.NewDirectory("anonymous");
        string empty = Path.Combine(work, "config.json");
        await File.WriteAllTextAsync(empty, "{}");
        string target = Path.Combine(work, "rootfs");

        var (code, _, error) = await CliRunner.RunAsync("--plain-http", "--auth-file", empty, "pull", fixture.Reference(mode).ToString(), target);

        Assert.Equal(1, code);
        string line = Assert.Single(error.TrimEnd('\n').Split('\n'));
        Assert.StartsWith("accel: error: ", line, StringComparison.Ordinal);
        Assert.Contains("401", line, StringComparison.Ordinal);
        Assert.Contains($"no credentials are configured for {Registries.Get(mode).Host} (RegistryOptions.Hosts, or auths in {empty})", line, StringComparison.Ordinal);
        Assert.False(Directory.Exists(target));
    }

    [Fact]
    public async Task Pull_IdentityTokenInAuthFile_ExchangedAtTheTokenServer()
    {
        // What 'docker login' writes for a token server that hands out refresh tokens: user <token>, no password.
        string config = Path.Combine(fixture.NewDirectory("identity"), "config.json");
        await File.WriteAllTextAsync(config, JsonSerializer.Serialize(new
        {
            auths = new Dictionary<string, object>
            {
                [Registries.Token.Host] = new { auth = Convert.ToBase64String("<token>:"u8.ToArray()), identitytoken = Registries.Password },
            },
        }));
        string target = Path.Combine(fixture.NewDirectory("identity-pull"), "rootfs");

        var (code, output, error) = await CliRunner.RunAsync("--plain-http", "--auth-file", config, "pull", fixture.Reference(RegistryAuthMode.Token).ToString(), target);

        Assert.True(code == 0, error);
        fixture.AssertNoSecrets(output, error);
        fixture.AssertImageFiles(target);
    }

    [Theory]
    [InlineData(RegistryAuthMode.Basic)]
    [InlineData(RegistryAuthMode.Token)]
    public async Task Pull_CredentialsInACredentialHelper_AsksTheHelper(RegistryAuthMode mode)
    {
        // docker login with "credsStore" keeps the credentials in a helper; this one speaks the helper protocol from a
        // script (a real one needs a keychain, gpg or dbus) and knows only the two registries.
        string work = fixture.NewDirectory("helper");
        string bin = Directory.CreateDirectory(Path.Combine(work, "bin")).FullName;
        string helper = Path.Combine(bin, "docker-credential-accel-test");
        await File.WriteAllTextAsync(helper, $$"""
            #!/bin/sh
            [ "$1" = get ] || exit 1
            read -r server
            case "$server" in
              {{Registries.Basic.Host}}|{{Registries.Token.Host}}) printf '{"ServerURL":"%s","Username":"{{PrivateRegistries.Username}}","Secret":"{{Registries.Password}}"}\n' "$server" ;;
              *) echo "credentials not found in native keychain"; exit 1 ;;
            esac
            """.Replace("\r", ""));
        await ExternalTool.RunAsync("chmod", ["0700", helper]);
        string config = Path.Combine(work, "config.json");
        await File.WriteAllTextAsync(config, """{"auths":{},"credsStore":"accel-test"}""");
        string target = Path.Combine(work, "rootfs");

        var (code, output, error) = await CliRunner.RunProcessAsync(
            ["env", $"PATH={bin}:{Environment.GetEnvironmentVariable("PATH")}"], "--plain-http", "--auth-file", config, "pull", fixture.Reference(mode).ToString(), target);

        Assert.True(code == 0, error);
        fixture.AssertNoSecrets(output, error);
        fixture.AssertImageFiles(target);
    }

    [Fact]
    public async Task AnyCommand_AuthFileMissing_OneClearErrorLine()
    {
        string missing = Path.Combine(fixture.WorkDirectory, "no-such-config.json");

        var (code, _, error) = await CliRunner.RunAsync("--auth-file", missing, "inspect", fixture.Reference(RegistryAuthMode.Basic).ToString());

        Assert.Equal(1, code);
        Assert.Equal($"accel: error: --auth-file: {missing} does not exist.", error.TrimEnd('\n'));
    }

    [Theory]
    [InlineData(RegistryAuthMode.Basic)]
    [InlineData(RegistryAuthMode.Token)]
    public async Task Copy_PrivateToOtherRepositoryAndOtherPrivateRegistry_BothHoldTheImage(RegistryAuthMode mode)
    {
        string sameRegistry = $"{Registries.Get(mode).Host}/copies/{mode.ToString().ToLowerInvariant()}:v1";
        string otherRegistry = $"{Registries.Get(Other(mode)).Host}/copied-from/{mode.ToString().ToLowerInvariant()}:v1";

        var first = await AccelAsync("copy", fixture.Reference(mode).ToString(), sameRegistry);
        var second = await AccelAsync("copy", fixture.Reference(mode).ToString(), otherRegistry);

        Assert.True(first.ExitCode == 0, first.Error);
        Assert.True(second.ExitCode == 0, second.Error);
        // Within one registry the blobs are mounted from the source repository (a token for both scopes), not sent again.
        Assert.Contains(" 0 blobs copied (0 B)", first.Out, StringComparison.Ordinal);
        Assert.Contains($" {fixture.Image.Layers.Count + 1} blobs copied", second.Out, StringComparison.Ordinal);
        foreach (string copy in new[] { sameRegistry, otherRegistry })
        {
            var reference = ImageReference.Parse(copy);
            var head = await Registries.Client.HeadManifestAsync(reference.Registry, reference.Repository, reference.Tag!);
            Assert.Equal(fixture.Image.Manifest.Digest, head?.Digest);
        }
    }

    [Theory]
    [InlineData(RegistryAuthMode.Basic)]
    [InlineData(RegistryAuthMode.Token)]
    public async Task ConvertLazyToOtherRepository_ThenLazyMount_ServesTheImageAndStatsHoldNoSecret(RegistryAuthMode mode)
    {
        string converted = $"{Registries.Get(mode).Host}/converted/lazy-{mode.ToString().ToLowerInvariant()}:v1";
        var convert = await AccelAsync("convert", fixture.Reference(mode).ToString(), converted, "--format", "lazy");
        Assert.True(convert.ExitCode == 0, convert.Error);

        string work = fixture.NewDirectory("lazy");
        await MountAndCheckAsync(work, "mount", converted, Path.Combine(work, "mnt"), "--strategy", "lazy", "--read-only", "--cache-dir", Path.Combine(work, "cache"));
    }

    [Theory]
    [InlineData(RegistryAuthMode.Basic)]
    [InlineData(RegistryAuthMode.Token)]
    public async Task ConvertBlockToOtherRepository_ThenBlockMount_ServesTheImage(RegistryAuthMode mode)
    {
        string converted = $"{Registries.Get(mode).Host}/converted/block-{mode.ToString().ToLowerInvariant()}:v1";
        var convert = await AccelAsync("convert", fixture.Reference(mode).ToString(), converted, "--format", "block", "--filesystem", "ext4", "--free-space", "16M");
        Assert.True(convert.ExitCode == 0, convert.Error);

        string work = fixture.NewDirectory("block");
        await MountAndCheckAsync(work, "mount", converted, Path.Combine(work, "mnt"), "--strategy", "block", "--read-only", "--cache-dir", Path.Combine(work, "cache"));
    }

    [Theory]
    [InlineData(RegistryAuthMode.Basic)]
    [InlineData(RegistryAuthMode.Token)]
    public async Task MountAuto_ConvertedInPlace_UsesTheLazyVariant(RegistryAuthMode mode)
    {
        // The default target (TAG-accel beside the source) and the auto strategy that finds it.
        string source = $"{Registries.Get(mode).Host}/auto/{mode.ToString().ToLowerInvariant()}:v1";
        Assert.Equal(0, (await AccelAsync("copy", fixture.Reference(mode).ToString(), source)).ExitCode);
        var convert = await AccelAsync("convert", source);
        Assert.True(convert.ExitCode == 0, convert.Error);

        string work = fixture.NewDirectory("auto");
        var stats = await MountAndCheckAsync(work, "mount", source, Path.Combine(work, "mnt"), "--read-only", "--cache-dir", Path.Combine(work, "cache"));

        Assert.Equal("lazy", stats.RootElement.GetProperty("strategy").GetString());
    }

    [Theory]
    [InlineData(RegistryAuthMode.Basic)]
    [InlineData(RegistryAuthMode.Token)]
    public async Task MountBackground_PrivateRegistry_DetachedServerHasTheCredentials(RegistryAuthMode mode)
    {
        string converted = $"{Registries.Get(mode).Host}/background/{mode.ToString().ToLowerInvariant()}:v1";
        Assert.True((await AccelAsync("convert", fixture.Reference(mode).ToString(), converted)).ExitCode == 0);
        string work = fixture.NewDirectory("background");
        string mountPoint = Directory.CreateDirectory(Path.Combine(work, "mnt")).FullName;

        var (code, output, error) = await AccelProcess.RunAsync(
            "--plain-http", "--auth-file", AuthFile, "mount", "--background", converted, mountPoint, "--strategy", "lazy", "--read-only", "--cache-dir", Path.Combine(work, "cache"));

        try
        {
            Assert.True(code == 0, error);
            fixture.AssertImageFiles(mountPoint);
            fixture.AssertNoSecrets(output, error);
        }
        finally
        {
            if (MountTable.IsMountPoint(mountPoint))
            {
                Assert.Equal(0, (await CliRunner.RunAsync("umount", mountPoint)).ExitCode);
            }
        }
    }

    [Theory]
    [InlineData(RegistryAuthMode.Basic, "tree")]
    [InlineData(RegistryAuthMode.Token, "tree")]
    [InlineData(RegistryAuthMode.Basic, "block")]
    [InlineData(RegistryAuthMode.Token, "block")]
    public async Task CacheWarmThenMount_PrivateRegistry_ClonesTheImage(RegistryAuthMode mode, string kind)
    {
        string work = fixture.NewDirectory("cache-" + kind);
        string store = Path.Combine(work, "store");
        string reference = fixture.Reference(mode).ToString();

        var warm = await AccelAsync("cache", "warm", "--cache-dir", store, "--kind", kind, reference);
        Assert.True(warm.ExitCode == 0, warm.Error);

        string mountPoint = Directory.CreateDirectory(Path.Combine(work, "mnt")).FullName;
        if (kind == "tree")
        {
            // A tree clone is an overlay that outlives the command.
            var mount = await AccelAsync("cache", "mount", "--cache-dir", store, "--read-only", reference, mountPoint);
            Assert.True(mount.ExitCode == 0, mount.Error);
            try
            {
                fixture.AssertImageFiles(mountPoint);
            }
            finally
            {
                var umount = await CliRunner.RunAsync("umount", mountPoint);
                Assert.True(umount.ExitCode == 0, umount.Error);
            }
        }
        else
        {
            await MountAndCheckAsync(work, "cache", "mount", "--cache-dir", store, "--read-only", reference, mountPoint);
        }

        fixture.AssertNoSecrets(PrivateRegistryFixture.ReadAllFiles(store));
    }

    [Theory]
    [InlineData(RegistryAuthMode.Basic)]
    [InlineData(RegistryAuthMode.Token)]
    public async Task CacheWarmBlock_VariantInPrivateRegistry_TakesTheVariantAndMounts(RegistryAuthMode mode)
    {
        string repository = $"warm-variant/{mode.ToString().ToLowerInvariant()}";
        string source = $"{Registries.Get(mode).Host}/{repository}:v1";
        Assert.True((await AccelAsync("copy", fixture.Reference(mode).ToString(), source)).ExitCode == 0);
        Assert.True((await AccelAsync("convert", source, "--format", "block", "--filesystem", "ext4", "--free-space", "16M")).ExitCode == 0);
        string work = fixture.NewDirectory("warm-variant");
        string store = Path.Combine(work, "store");

        var warm = await AccelAsync("cache", "warm", "--cache-dir", store, "--kind", "block", source);

        Assert.True(warm.ExitCode == 0, warm.Error);
        // The snapshot store read the block variant (TAG-accel-block) from the private registry.
        Assert.Contains(Registries.Get(mode).ReadLog().Split('\n'), line => line.Contains($"GET /v2/{repository}/manifests/v1-accel-block", StringComparison.Ordinal) && line.Contains("\" 200 ", StringComparison.Ordinal));
        await MountAndCheckAsync(work, "cache", "mount", "--cache-dir", store, "--read-only", source, Path.Combine(work, "mnt"));
    }

    [Theory]
    [InlineData(RegistryAuthMode.Basic)]
    [InlineData(RegistryAuthMode.Token)]
    public async Task CacheExportToPrivateRegistry_ThenImportFromIt_SnapshotMounts(RegistryAuthMode mode)
    {
        string work = fixture.NewDirectory("cache-export");
        string first = Path.Combine(work, "first");
        string second = Path.Combine(work, "second");
        string reference = fixture.Reference(mode).ToString();
        string artifact = $"{Registries.Get(mode).Host}/snapshots/{mode.ToString().ToLowerInvariant()}:v1";
        Assert.True((await AccelAsync("cache", "warm", "--cache-dir", first, reference)).ExitCode == 0);

        var export = await AccelAsync("cache", "export", "--cache-dir", first, reference, artifact);
        var import = await AccelAsync("cache", "import", "--cache-dir", second, artifact);

        Assert.True(export.ExitCode == 0, export.Error);
        Assert.True(import.ExitCode == 0, import.Error);
        string mountPoint = Directory.CreateDirectory(Path.Combine(work, "mnt")).FullName;
        var mount = await AccelAsync("cache", "mount", "--cache-dir", second, "--no-resolve", "--read-only", reference, mountPoint);
        Assert.True(mount.ExitCode == 0, mount.Error);
        try
        {
            fixture.AssertImageFiles(mountPoint);
        }
        finally
        {
            Assert.Equal(0, (await CliRunner.RunAsync("umount", mountPoint)).ExitCode);
        }
    }

    [Theory]
    [InlineData(RegistryAuthMode.Basic)]
    [InlineData(RegistryAuthMode.Token)]
    public async Task Replicate_PrivateSourceToPrivateTarget_CopiesTheImage(RegistryAuthMode mode)
    {
        string prefix = $"replica-{mode.ToString().ToLowerInvariant()}";
        var target = Registries.Get(Other(mode));

        var (code, output, error) = await AccelAsync("replicate", Registries.Get(mode).Host, $"{target.Host}/{prefix}", "--filter", $"{PrivateRegistryFixture.Repository}:{PrivateRegistryFixture.Tag}");

        Assert.True(code == 0, error + output);
        Assert.Contains("1 copied", output, StringComparison.Ordinal);
        var head = await Registries.Client.HeadManifestAsync(target.Host, $"{prefix}/{PrivateRegistryFixture.Repository}", PrivateRegistryFixture.Tag);
        Assert.Equal(fixture.Image.Manifest.Digest, head?.Digest);
    }

    [Theory]
    [InlineData(RegistryAuthMode.Basic)]
    [InlineData(RegistryAuthMode.Token)]
    public async Task ReplicateServe_PushToPrivateSource_ReplicatedToPrivateTarget(RegistryAuthMode mode)
    {
        int port = LoopbackPorts.Free();
        string work = fixture.NewDirectory("serve");
        string token = "notify-" + Guid.NewGuid().ToString("N");
        string tokenFile = Path.Combine(work, "token");
        await File.WriteAllTextAsync(tokenFile, token);
        var source = await Registries.StartAnotherAsync(mode, o =>
        {
            o.NotificationEndpoints.Add(new Uri($"http://127.0.0.1:{port}/events"));
            o.NotificationHeaders["Authorization"] = "Bearer " + token;
        });
        var target = Registries.Get(Other(mode));
        string prefix = $"served-{mode.ToString().ToLowerInvariant()}";
        await using var serve = AccelProcess.Start(
            "replicate", "serve", "--plain-http", "--auth-file", AuthFile, "--listen", $"http://127.0.0.1:{port}", "--source", source.Host,
            "--auth-token-file", tokenFile, "--to", $"{target.Host}/{prefix}", "--data-dir", Path.Combine(work, "queue"));
        await serve.WaitForOutputAsync("Listening for registry notifications", TimeSpan.FromSeconds(30));

        await Accelerator.Oci.Copying.ImageCopier.CopyAsync(
            Registries.Client.GetStore(Registries.Get(mode).Host), fixture.Reference(mode), Registries.Client.GetStore(source.Host), ImageReference.Parse($"{source.Host}/team/app:1.0"));

        await Poll.UntilAsync(
            async () => (await Registries.Client.HeadManifestAsync(target.Host, $"{prefix}/team/app", "1.0"))?.Digest == fixture.Image.Manifest.Digest,
            TimeSpan.FromSeconds(60),
            $"the pushed image on the target ({serve.Error})");
        await serve.TerminateAsync();
        fixture.AssertNoSecrets(serve.Output, serve.Error);
        fixture.AssertNoSecrets(PrivateRegistryFixture.ReadAllFiles(Path.Combine(work, "queue")));
    }

    [Theory]
    [InlineData(RegistryAuthMode.Basic)]
    [InlineData(RegistryAuthMode.Token)]
    public async Task Mount_WrongPassword_OneClearErrorLine(RegistryAuthMode mode)
    {
        string work = fixture.NewDirectory("mount-wrong");
        string mountPoint = Directory.CreateDirectory(Path.Combine(work, "mnt")).FullName;
        await using var accel = AccelProcess.Start(
            "--plain-http", "--auth-file", Registries.WrongAuthFile, "mount", fixture.Reference(mode).ToString(), mountPoint, "--cache-dir", Path.Combine(work, "cache"));

        int code = await accel.WaitForExitAsync(MountTimeout);

        Assert.Equal(1, code);
        string line = Assert.Single(accel.Error.TrimEnd('\n').Split('\n'));
        Assert.StartsWith("accel: error: ", line, StringComparison.Ordinal);
        Assert.Contains($"check the credentials for {Registries.Get(mode).Host}", line, StringComparison.Ordinal);
        fixture.AssertNoSecrets(accel.Output, accel.Error);
        Assert.False(MountTable.IsMountPoint(mountPoint));
    }

    [Theory]
    [InlineData(RegistryAuthMode.Basic)]
    [InlineData(RegistryAuthMode.Token)]
    public async Task Inspect_PrivateRegistry_PrintsTheManifestDigest(RegistryAuthMode mode)
    {
        var (code, output, error) = await AccelAsync("inspect", fixture.Reference(mode).ToString());

        Assert.True(code == 0, error);
        Assert.Contains(fixture.Image.Manifest.Digest.ToString(), output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(RegistryAuthMode.Basic)]
    [InlineData(RegistryAuthMode.Token)]
    public async Task ConvertLazyToOtherPrivateRegistryWithChunkDictionary_ReusesItsChunksAndMounts(RegistryAuthMode mode)
    {
        string name = mode.ToString().ToLowerInvariant();
        string dictionary = $"{Registries.Get(mode).Host}/dictionaries/{name}:v1";
        string converted = $"{Registries.Get(Other(mode)).Host}/cross/{name}:v1-accel";
        Assert.True((await AccelAsync("convert", fixture.Reference(mode).ToString(), dictionary)).ExitCode == 0);

        var (code, output, error) = await AccelAsync("convert", fixture.Reference(mode).ToString(), converted, "--chunk-dict", dictionary);

        Assert.True(code == 0, error);
        Assert.Contains("reused from", output, StringComparison.Ordinal);
        string work = fixture.NewDirectory("cross");
        await MountAndCheckAsync(work, "mount", converted, Path.Combine(work, "mnt"), "--strategy", "lazy", "--read-only", "--cache-dir", Path.Combine(work, "cache"));
    }

    [Theory]
    [InlineData(RegistryAuthMode.Basic)]
    [InlineData(RegistryAuthMode.Token)]
    public async Task PullThroughPrivateMirror_LayersComeFromTheMirror(RegistryAuthMode mode)
    {
        // The image is in both registries under the same name: the other one serves as a mirror with its own credentials.
        string mirror = Registries.Get(Other(mode)).Host;
        string target = Path.Combine(fixture.NewDirectory("pull-mirror"), "rootfs");

        var (code, output, error) = await AccelAsync("pull", fixture.Reference(mode).ToString(), target, "--mirror", $"http://{mirror}");

        Assert.True(code == 0, error);
        Assert.Contains($"Fetched from: mirror:{mirror} ", output, StringComparison.Ordinal);
        fixture.AssertImageFiles(target);
    }

    [Theory]
    [InlineData(RegistryAuthMode.Basic)]
    [InlineData(RegistryAuthMode.Token)]
    public async Task LazyMountThroughPrivateMirror_ChunksComeFromTheMirror(RegistryAuthMode mode)
    {
        // The lazy image in the origin (mode) and, by the same name, in a mirror that needs other credentials.
        string name = mode.ToString().ToLowerInvariant();
        string origin = $"{Registries.Get(mode).Host}/mirrored/{name}:v1";
        string mirror = Registries.Get(Other(mode)).Host;
        Assert.True((await AccelAsync("convert", fixture.Reference(mode).ToString(), origin)).ExitCode == 0);
        Assert.True((await AccelAsync("copy", origin, $"{mirror}/mirrored/{name}:v1")).ExitCode == 0);

        string work = fixture.NewDirectory("mirror");
        var stats = await MountAndCheckAsync(work, "mount", origin, Path.Combine(work, "mnt"), "--strategy", "lazy", "--read-only", "--cache-dir", Path.Combine(work, "cache"), "--mirror", $"http://{mirror}");

        // The mirror's own access log: the chunks were read from it with range requests, with its credentials.
        string log = Registries.Get(Other(mode)).ReadLog();
        Assert.Contains(log.Split('\n'), line => line.Contains($"GET /v2/mirrored/{name}/blobs/sha256:", StringComparison.Ordinal) && line.Contains("\" 206 ", StringComparison.Ordinal));
        Assert.True(stats.RootElement.GetProperty("bytesFetched").GetInt64() > 0);
    }

    [Theory]
    [InlineData(RegistryAuthMode.Basic)]
    [InlineData(RegistryAuthMode.Token)]
    public async Task BlockServe_PrivateRegistry_NbdClientReadsTheDisk(RegistryAuthMode mode)
    {
        string name = mode.ToString().ToLowerInvariant();
        string converted = $"{Registries.Get(mode).Host}/served/{name}:v1";
        Assert.True((await AccelAsync("convert", fixture.Reference(mode).ToString(), converted, "--format", "block", "--filesystem", "ext4", "--free-space", "16M")).ExitCode == 0);
        string work = fixture.NewDirectory("nbd");
        string socket = Path.Combine(work, "nbd.sock");
        string disk = Path.Combine(work, "disk.img");
        await using var serve = AccelProcess.Start("--plain-http", "--auth-file", AuthFile, "block", "serve", converted, "--nbd", $"unix:{socket}", "--cache-dir", Path.Combine(work, "cache"));
        await serve.WaitForOutputAsync("Stop with Ctrl+C.", TimeSpan.FromSeconds(60));

        await ExternalTool.RunAsync("nbdcopy", [$"nbd+unix:///?socket={socket}", disk]);
        await serve.TerminateAsync();

        var (file, sha256) = fixture.Files.OrderBy(f => f.Key, StringComparer.Ordinal).First();
        string copy = Path.Combine(work, "file");
        await ExternalTool.RunAsync("debugfs", ["-R", $"dump /{file} {copy}", disk]);
        Assert.Equal(sha256, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(await File.ReadAllBytesAsync(copy))));
        fixture.AssertNoSecrets(serve.Output, serve.Error);
    }

    [Fact]
    public async Task LazyMount_TokensExpireWhileMounted_LaterReadsFetchNewTokens()
    {
        string converted = $"{Registries.Token.Host}/expiring/app:v1";
        Assert.True((await AccelAsync("convert", fixture.Reference(RegistryAuthMode.Token).ToString(), converted)).ExitCode == 0);
        string work = fixture.NewDirectory("expiry");
        string mountPoint = Directory.CreateDirectory(Path.Combine(work, "mnt")).FullName;
        var lifetime = Registries.TokenServer.TokenLifetime;
        // docker-registry accepts a token up to 60 s after its exp claim; the client keeps any token at least 60 s. So
        // tokens whose exp lies 57 s in the past are refused by the registry 3 s after they are issued, long before the
        // client would fetch new ones by itself: the reads below depend on the client renewing a refused token.
        Registries.TokenServer.TokenLifetime = TimeSpan.FromSeconds(-57);
        try
        {
            await using var accel = AccelProcess.Start("--plain-http", "--auth-file", AuthFile, "mount", converted, mountPoint, "--strategy", "lazy", "--read-only", "--cache-dir", Path.Combine(work, "cache"));
            try
            {
                await accel.WaitUntilAsync(() => MountTable.IsMountPoint(mountPoint), MountTimeout, "mount");
                int issued = Registries.TokenServer.Requests.Count;
                await Task.Delay(TimeSpan.FromSeconds(5));

                fixture.AssertImageFiles(mountPoint);

                Assert.True(Registries.TokenServer.Requests.Count > issued, "no token was fetched after the first ones expired");
            }
            finally
            {
                if (MountTable.IsMountPoint(mountPoint))
                {
                    Assert.Equal(0, (await CliRunner.RunAsync("umount", mountPoint)).ExitCode);
                }
            }

            Assert.Equal(0, await accel.WaitForExitAsync(MountTimeout));
            fixture.AssertNoSecrets(accel.Output, accel.Error);
        }
        finally
        {
            Registries.TokenServer.TokenLifetime = lifetime;
        }
    }

    // Runs a serving accel (mount or cache mount) as a process with the right credentials, checks the mounted files,
    // unmounts with 'accel umount' and returns the statistics JSON (mount only) after checking it holds no secret.
    private async Task<JsonDocument> MountAndCheckAsync(string work, params string[] args)
    {
        string mountPoint = args[Array.IndexOf(args, args.First(a => a.EndsWith("mnt", StringComparison.Ordinal)))];
        Directory.CreateDirectory(mountPoint);
        string stats = Path.Combine(work, "stats.json");
        string[] full = ["--plain-http", "--auth-file", AuthFile, .. args];
        if (args[0] == "mount")
        {
            full = [.. full, "--stats-json", stats];
        }

        await using var accel = AccelProcess.Start(full);
        try
        {
            await accel.WaitUntilAsync(() => MountTable.IsMountPoint(mountPoint), MountTimeout, "mount");
            fixture.AssertImageFiles(mountPoint);
        }
        finally
        {
            if (MountTable.IsMountPoint(mountPoint))
            {
                var umount = await CliRunner.RunAsync("umount", mountPoint);
                Assert.True(umount.ExitCode == 0, umount.Error);
            }
        }

        Assert.Equal(0, await accel.WaitForExitAsync(MountTimeout));
        fixture.AssertNoSecrets(accel.Output, accel.Error);
        if (args[0] != "mount")
        {
            return JsonDocument.Parse("{}");
        }

        string json = await File.ReadAllTextAsync(stats);
        fixture.AssertNoSecrets(json);
        return JsonDocument.Parse(json);
    }
}
