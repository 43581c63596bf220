using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace Accelerator.Testing.Images;

/// <summary>
/// Real images built from real Debian 12 packages with <c>mmdebstrap</c>, as OCI image layouts layered the way
/// Dockerfiles build them, cached between test runs. See <c>README.md</c> beside this file for what each image holds.
/// </summary>
/// <remarks>
/// Each image is built once per recipe: the layout lands in <see cref="CacheRoot"/><c>/NAME-HASH/</c>, where HASH is
/// the sha256 of the recipe (suite, packages, layer steps, the .NET runtime copied in). A build runs in a temporary
/// directory beside it and is renamed into place when complete, under an exclusive lock file, so test processes
/// building the same image at once wait for one build. Rebuilds are not byte-identical (mmdebstrap stamps the build
/// time); tests compare trees against <c>umoci unpack</c> of the same layout, never bytes across builds.
/// Building needs root, network access to a Debian mirror, mmdebstrap, umoci, skopeo, GNU tar and the .NET SDK.
/// </remarks>
public static class DebianImageCorpus
{
    /// <summary>The cache directory used unless <see cref="CacheDirectoryVariable"/> names another.</summary>
    public const string DefaultCacheRoot = "/var/cache/accel-test-corpus";

    /// <summary>The environment variable that moves the cache (<see cref="CacheRoot"/>).</summary>
    public const string CacheDirectoryVariable = "ACCEL_TEST_CORPUS_DIR";

    /// <summary>The Debian suite every image is built from.</summary>
    public const string Suite = "bookworm";

    /// <summary>One layer: <c>mmdebstrap --variant=minbase</c>.</summary>
    public const string Minbase = "minbase";

    /// <summary>One layer: minbase with <c>python3</c> and <c>nginx-light</c>.</summary>
    public const string PythonNginx = "python-nginx";

    /// <summary>
    /// Three layers, like <c>FROM minbase</c> / <c>RUN apt-get install python3-minimal</c> / <c>COPY app</c>: the
    /// minbase layer, the package step's diff (made by <c>umoci repack</c>), and an app layer with whiteouts of a file
    /// and a directory, an opaque directory and an alternatives-style link to a directory.
    /// </summary>
    public const string Layered = "layered";

    /// <summary>
    /// Three layers: minbase with the .NET runtime's native dependencies, this machine's shared .NET runtime in
    /// <c>/usr/share/dotnet</c> (<c>/usr/bin/dotnet</c> linking to it), and a console app in <c>/app</c>.
    /// </summary>
    public const string Dotnet = "dotnet";

    // Bump when a recipe's code changes, so that caches built by older code are not used.
    private const string RecipeVersion = "1";

    private const string CompleteMarker = "complete";

    private static readonly ConcurrentDictionary<string, Lazy<Task<DebianImage>>> Builds = new(StringComparer.Ordinal);

    /// <summary>The names of every image in the corpus.</summary>
    public static IReadOnlyList<string> Names { get; } = [Minbase, PythonNginx, Layered, Dotnet];

    /// <summary>Where built layouts are cached: <see cref="CacheDirectoryVariable"/>, else <see cref="DefaultCacheRoot"/>.</summary>
    public static string CacheRoot => Environment.GetEnvironmentVariable(CacheDirectoryVariable) is { Length: > 0 } root ? root : DefaultCacheRoot;

    /// <summary>
    /// The image named <paramref name="name"/>, from the cache or built now (once per process and recipe; other
    /// processes building it are waited for).
    /// </summary>
    /// <param name="name">One of <see cref="Names"/>.</param>
    /// <param name="cancellationToken">Cancels waiting (a build already started runs on).</param>
    /// <exception cref="ArgumentException">No image has that name.</exception>
    /// <exception cref="ExternalToolException">A build tool failed.</exception>
    public static Task<DebianImage> GetAsync(string name, CancellationToken cancellationToken = default)
    {
        if (!Names.Contains(name, StringComparer.Ordinal))
        {
            throw new ArgumentException($"The corpus has no image '{name}' (it has {string.Join(", ", Names)}).", nameof(name));
        }

        return Builds.GetOrAdd(name, n => new Lazy<Task<DebianImage>>(() => BuildOrLoadAsync(n))).Value.WaitAsync(cancellationToken);
    }

    private static async Task<DebianImage> BuildOrLoadAsync(string name)
    {
        CorpusRecipe recipe = name switch
        {
            Minbase => new(
                Key(Minbase, "mmdebstrap minbase"), 1, w => BuildSingleLayerAsync(w, Minbase, []),
                ["/bin/sh", "-c", "dpkg-query -W -f='${Package} ${Status}\\n' base-files && awk 'BEGIN { print 6 * 7 }'"],
                ["base-files install ok installed", "42"]),
            PythonNginx => new(
                Key(PythonNginx, "mmdebstrap minbase +python3,nginx-light"), 1, w => BuildSingleLayerAsync(w, PythonNginx, ["python3", "nginx-light"]),
                ["/bin/sh", "-c", "python3 -c 'import json, sqlite3, hashlib, ssl; print(json.dumps({\"sqlite\": sqlite3.connect(\":memory:\").execute(\"select 6 * 7\").fetchone()[0], \"sha256\": hashlib.sha256(b\"abc\").hexdigest()[:8]}))' && nginx -t 2>&1"],
                ["{\"sqlite\": 42, \"sha256\": \"ba7816bf\"}", "nginx: configuration file /etc/nginx/nginx.conf test is successful"]),
            Layered => new(
                Key(Layered, "from " + (await GetAsync(Minbase).ConfigureAwait(false)).LayoutPath, "+python3-minimal by umoci repack", LayeredAppScript),
                3, BuildLayeredAsync, ["/usr/bin/python3", "/app/main.py"], ["app: all checks passed"]),
            Dotnet => new(
                Key(Dotnet, "mmdebstrap minbase +" + string.Join(",", DotnetNativeDependencies), "runtime " + DotnetRuntimeDirectory, DotnetAppSource),
                3, BuildDotnetAsync, ["/usr/bin/dotnet", "/app/hello.dll"], [$"hello from .NET {Environment.Version}", "icu: ok", "openssl: ok"]),
            _ => throw new ArgumentException($"No recipe for '{name}'.", nameof(name)),
        };

        string directory = await GetOrBuildAsync(name, recipe.Key, recipe.Build).ConfigureAwait(false);
        return new DebianImage(name, Path.Combine(directory, "layout"), recipe.Layers, recipe.Command, recipe.ExpectedOutput);
    }

    private static string Key(string name, params string[] steps) => string.Join("\n", [RecipeVersion, Suite, RuntimeInformation.OSArchitecture.ToString(), name, .. steps]);

    // The cached directory of a recipe, built under the lock into a temporary directory and renamed into place
    // (SeekableCorpus caches its conversions the same way).
    internal static async Task<string> GetOrBuildAsync(string name, string recipe, Func<string, Task> build)
    {
        string root = Directory.CreateDirectory(CacheRoot).FullName;
        string hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(recipe)))[..16];
        string final = Path.Combine(root, $"{name}-{hash}");
        if (File.Exists(Path.Combine(final, CompleteMarker)))
        {
            return final;
        }

        using FileStream lockFile = await AcquireLockAsync(Path.Combine(root, $"{name}-{hash}.lock")).ConfigureAwait(false);
        if (File.Exists(Path.Combine(final, CompleteMarker)))
        {
            return final;
        }

        // Leftovers of a build that died: a temporary directory, or a final one without its marker.
        foreach (string stale in Directory.EnumerateDirectories(root, $".tmp-{name}-{hash}-*").Append(final).Where(Directory.Exists))
        {
            Directory.Delete(stale, recursive: true);
        }

        string temporary = Path.Combine(root, $".tmp-{name}-{hash}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(temporary);
        try
        {
            await build(temporary).ConfigureAwait(false);
            foreach (string scratch in Directory.EnumerateFileSystemEntries(temporary).Where(p => Path.GetFileName(p) != "layout"))
            {
                Delete(scratch);
            }

            await File.WriteAllTextAsync(Path.Combine(temporary, CompleteMarker), recipe).ConfigureAwait(false);
            Directory.Move(temporary, final);
            return final;
        }
        catch
        {
            Delete(temporary);
            throw;
        }
    }

    // An exclusive lock across processes (FileShare.None takes flock(LOCK_EX | LOCK_NB) on Linux); a build takes
    // about a minute, so waiting is bounded generously.
    private static async Task<FileStream> AcquireLockAsync(string path)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(20);
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(500).ConfigureAwait(false);
            }
        }
    }

    private static async Task BuildSingleLayerAsync(string work, string name, IReadOnlyList<string> packages)
    {
        string layout = await NewLayoutAsync(work, name).ConfigureAwait(false);
        string tar = await DebootstrapAsync(work, "root", packages).ConfigureAwait(false);
        await AddLayerAsync(layout, name, tar, $"mmdebstrap --variant=minbase{IncludeArgument(packages)} {Suite}").ConfigureAwait(false);
    }

    private static async Task BuildLayeredAsync(string work)
    {
        DebianImage minbase = await GetAsync(Minbase).ConfigureAwait(false);
        string layout = Path.Combine(work, "layout");
        string image = $"{layout}:{Layered}";
        // FROM minbase: the same layer blob, as a Dockerfile's base.
        await ExternalTool.RunAsync("skopeo", ["copy", "--quiet", minbase.OciReference, $"oci:{image}"]).ConfigureAwait(false);

        // RUN apt-get install python3-minimal: the tree after the step, diffed against the tree before by umoci
        // (changed and new entries, whiteouts for removed ones).
        string packaged = await DebootstrapAsync(work, "packaged", ["python3-minimal"]).ConfigureAwait(false);
        string bundle = Path.Combine(work, "bundle");
        string rootfs = await OciLayoutTools.UnpackWithUmociAsync(layout, Layered, bundle).ConfigureAwait(false);
        foreach (string entry in Directory.EnumerateFileSystemEntries(rootfs))
        {
            Delete(entry);
        }

        await ExternalTool.RunAsync("tar", ["--extract", "--file", packaged, "--directory", rootfs, "--numeric-owner", "--same-permissions", "--xattrs", "--xattrs-include=*"]).ConfigureAwait(false);
        await ExternalTool.RunAsync("umoci", ["repack", "--image", image, "--history.created_by", "apt-get install python3-minimal (mmdebstrap tree diffed by umoci repack)", bundle]).ConfigureAwait(false);
        Delete(bundle);
        File.Delete(packaged);

        // COPY app, with deletions: whiteouts of a file and of a directory, an opaque directory, and links.
        var stage = new StagingDirectory(Path.Combine(work, "app"));
        stage.AddFile("app/main.py", LayeredAppScript, "755");
        stage.AddFile("etc/.wh.motd", []);
        stage.AddFile("usr/share/doc/.wh.python3-minimal", []);
        stage.AddFile("etc/apt/apt.conf.d/.wh..wh..opq", []);
        stage.AddFile("etc/apt/apt.conf.d/99app", "APT::Install-Recommends \"false\";\n");
        stage.AddFile("usr/share/app/1.0/data.txt", "data\n");
        stage.AddSymlink("etc/alternatives/app-data", "/usr/share/app/1.0");
        stage.AddSymlink("usr/lib/app/default", "/etc/alternatives/app-data");
        stage.AddSymlink("usr/lib/app/current", "../../share/app/1.0");
        string appTar = Path.Combine(work, "app.tar");
        await TarDirectoryAsync(stage.Root, appTar).ConfigureAwait(false);
        await AddLayerAsync(layout, Layered, appTar, "COPY app (whiteouts, an opaque directory, alternatives links)").ConfigureAwait(false);
        await ExternalTool.RunAsync("umoci", ["gc", "--layout", layout]).ConfigureAwait(false);
    }

    private static async Task BuildDotnetAsync(string work)
    {
        string layout = await NewLayoutAsync(work, Dotnet).ConfigureAwait(false);
        string baseTar = await DebootstrapAsync(work, "root", DotnetNativeDependencies).ConfigureAwait(false);
        await AddLayerAsync(layout, Dotnet, baseTar, $"mmdebstrap --variant=minbase{IncludeArgument(DotnetNativeDependencies)} {Suite}").ConfigureAwait(false);
        File.Delete(baseTar);

        // The shared runtime this machine runs: the host (dotnet), hostfxr, and Microsoft.NETCore.App/VERSION.
        string runtime = DotnetRuntimeDirectory;
        string dotnetRoot = Path.GetFullPath(Path.Combine(runtime, "..", "..", ".."));
        string stage = Directory.CreateDirectory(Path.Combine(work, "runtime", "usr", "share", "dotnet")).FullName;
        Directory.CreateDirectory(Path.Combine(stage, "shared", "Microsoft.NETCore.App"));
        await ExternalTool.RunAsync("cp", ["-a", Path.Combine(dotnetRoot, "dotnet"), Path.Combine(dotnetRoot, "host"), stage]).ConfigureAwait(false);
        await ExternalTool.RunAsync("cp", ["-a", runtime, Path.Combine(stage, "shared", "Microsoft.NETCore.App")]).ConfigureAwait(false);
        Directory.CreateDirectory(Path.Combine(work, "runtime", "usr", "bin"));
        File.CreateSymbolicLink(Path.Combine(work, "runtime", "usr", "bin", "dotnet"), "../share/dotnet/dotnet");
        string runtimeTar = Path.Combine(work, "runtime.tar");
        await TarDirectoryAsync(Path.Combine(work, "runtime"), runtimeTar).ConfigureAwait(false);
        await AddLayerAsync(layout, Dotnet, runtimeTar, $"COPY .NET runtime {Path.GetFileName(runtime)} /usr/share/dotnet").ConfigureAwait(false);

        // A console app, compiled here once (framework-dependent, no apphost).
        string project = Directory.CreateDirectory(Path.Combine(work, "hello")).FullName;
        await File.WriteAllTextAsync(Path.Combine(project, "hello.csproj"), DotnetAppProject).ConfigureAwait(false);
        await File.WriteAllTextAsync(Path.Combine(project, "Program.cs"), DotnetAppSource).ConfigureAwait(false);
        string app = Path.Combine(work, "app-stage", "app");
        await ExternalTool.RunAsync("dotnet", ["publish", project, "-c", "Release", "-o", app, "--nologo"], workingDirectory: project).ConfigureAwait(false);
        foreach (string pdb in Directory.EnumerateFiles(app, "*.pdb"))
        {
            File.Delete(pdb);
        }

        string appTar = Path.Combine(work, "app.tar");
        await TarDirectoryAsync(Path.Combine(work, "app-stage"), appTar).ConfigureAwait(false);
        await AddLayerAsync(layout, Dotnet, appTar, "COPY hello /app").ConfigureAwait(false);
    }

    private static async Task<string> NewLayoutAsync(string work, string tag)
    {
        string layout = Path.Combine(work, "layout");
        await ExternalTool.RunAsync("umoci", ["init", "--layout", layout]).ConfigureAwait(false);
        await ExternalTool.RunAsync("umoci", ["new", "--image", $"{layout}:{tag}"]).ConfigureAwait(false);
        return layout;
    }

    // mmdebstrap writes the tree as a tar (device nodes, owners and xattrs kept); docker images carry /dev/fd, so a
    // tree without it gets it.
    private static async Task<string> DebootstrapAsync(string work, string name, IReadOnlyList<string> packages)
    {
        string tar = Path.Combine(work, name + ".tar");
        var arguments = new List<string> { "--quiet", "--variant=minbase" };
        if (packages.Count > 0)
        {
            arguments.Add("--include=" + string.Join(",", packages));
        }

        arguments.AddRange([Suite, tar]);
        await ExternalTool.RunAsync("mmdebstrap", arguments).ConfigureAwait(false);
        string listing = await ExternalTool.RunAsync("tar", ["--list", "--file", tar]).ConfigureAwait(false);
        if (!listing.Split('\n').Contains("./dev/fd"))
        {
            string extra = Directory.CreateDirectory(Path.Combine(work, name + "-devfd", "dev")).FullName;
            File.CreateSymbolicLink(Path.Combine(extra, "fd"), "/proc/self/fd");
            await ExternalTool.RunAsync("tar", ["--append", "--file", tar, "--directory", Path.GetDirectoryName(extra)!, "--numeric-owner", "--no-recursion", "./dev/fd"]).ConfigureAwait(false);
        }

        return tar;
    }

    private static string IncludeArgument(IReadOnlyList<string> packages) => packages.Count == 0 ? string.Empty : " --include=" + string.Join(",", packages);

    private static Task AddLayerAsync(string layout, string tag, string tar, string createdBy)
        => ExternalTool.RunAsync("umoci", ["raw", "add-layer", "--image", $"{layout}:{tag}", "--history.created_by", createdBy, tar]);

    private static Task TarDirectoryAsync(string directory, string tar)
        => ExternalTool.RunAsync("tar",
        [
            "--create", "--file", tar, "--directory", directory, "--format=posix", "--numeric-owner", "--owner=0", "--group=0",
            "--sort=name", "--mtime=@" + FixedTime, "--pax-option=delete=atime,delete=ctime", ".",
        ]);

    private static void Delete(string path)
    {
        if (Directory.Exists(path) && new DirectoryInfo(path).LinkTarget is null)
        {
            Directory.Delete(path, recursive: true);
        }
        else if (File.Exists(path) || new FileInfo(path).LinkTarget is not null)
        {
            File.Delete(path);
        }
    }

    // 2023-11-14T22:13:20Z: the mtime of every file the recipes stage themselves.
    private const long FixedTime = 1_700_000_000;

    private static readonly string[] DotnetNativeDependencies = ["libicu72", "libssl3", "zlib1g", "ca-certificates", "libstdc++6", "libgcc-s1"];

    // The directory of the shared runtime this process runs on: DOTNET_ROOT/shared/Microsoft.NETCore.App/VERSION.
    private static string DotnetRuntimeDirectory => Path.TrimEndingDirectorySeparator(RuntimeEnvironment.GetRuntimeDirectory());

    private const string LayeredAppScript = """
        #!/usr/bin/python3
        # Checks, inside the container, what the app layer did to the layers below it.
        import hashlib, os
        checks = {
            "file whited out": not os.path.lexists("/etc/motd"),
            "directory whited out": not os.path.lexists("/usr/share/doc/python3-minimal"),
            "opaque directory": sorted(os.listdir("/etc/apt/apt.conf.d")) == ["99app"],
            "alternatives link": open("/usr/lib/app/default/data.txt").read() == "data\n",
            "relative directory link": open("/usr/lib/app/current/data.txt").read() == "data\n",
            "usrmerge": os.path.realpath("/lib") == "/usr/lib",
            "package layer": os.path.exists("/usr/bin/python3") and os.path.exists("/usr/share/doc/base-files"),
            "sha256": hashlib.sha256(b"abc").hexdigest().startswith("ba7816bf"),
        }
        for name, ok in checks.items():
            print(name + ": " + ("ok" if ok else "FAILED"))
        if not all(checks.values()):
            raise SystemExit(1)
        print("app: all checks passed")

        """;

    private const string DotnetAppProject = """
        <Project Sdk="Microsoft.NET.Sdk">
          <PropertyGroup>
            <OutputType>Exe</OutputType>
            <TargetFramework>net10.0</TargetFramework>
            <UseAppHost>false</UseAppHost>
            <ImplicitUsings>enable</ImplicitUsings>
            <Nullable>enable</Nullable>
          </PropertyGroup>
        </Project>
        """;

    // ICU (a German month name; invariant globalization would throw) and OpenSSL (SHA-256 goes through libcrypto).
    private const string DotnetAppSource = """
        using System.Globalization;
        using System.Security.Cryptography;
        using System.Text;

        Console.WriteLine($"hello from .NET {Environment.Version}");
        string march = CultureInfo.GetCultureInfo("de-DE").DateTimeFormat.GetMonthName(3);
        Console.WriteLine(march == "M\u00e4rz" ? "icu: ok" : "icu: FAILED");
        string hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes("abc")));
        Console.WriteLine(hash.StartsWith("ba7816bf", StringComparison.Ordinal) ? "openssl: ok" : "openssl: FAILED");

        """;

    private sealed record CorpusRecipe(string Key, int Layers, Func<string, Task> Build, IReadOnlyList<string> Command, IReadOnlyList<string> ExpectedOutput);
}
