using System.Security.Cryptography;
using Accelerator.IntegrationTests.Cli;

namespace Accelerator.IntegrationTests.Takeover;

/// <summary>
/// The conformance image in a real registry with its lazy variant and its block variant (ext4), plus the lazy variant of
/// the same content pushed as another image (another manifest); and the files a reader checks, with their SHA-256 as
/// umoci unpacked them.
/// </summary>
public sealed class TakeoverImageFixture : IAsyncLifetime
{
    public ConformanceImageFixture Images { get; } = new();

    /// <summary>The image every test mounts.</summary>
    public ImageReference Source => Images.Reference(ConformanceImageFixture.OciRepository);

    /// <summary>Another image (another manifest), also converted lazy.</summary>
    public ImageReference Other => Images.Reference(ConformanceImageFixture.DockerRepository);

    /// <summary>Regular files of the image (relative paths) and their SHA-256, largest first.</summary>
    public IReadOnlyList<(string Path, string Sha256)> Files { get; private set; } = [];

    public async Task InitializeAsync()
    {
        await Images.InitializeAsync();
        foreach (string[] convert in new[]
        {
            new[] { "convert", "--plain-http", Source.ToString(), "--format", "lazy" },
            ["convert", "--plain-http", Source.ToString(), "--format", "block", "--filesystem", "ext4", "--free-space", "4M"],
            ["convert", "--plain-http", Other.ToString(), "--format", "lazy"],
        })
        {
            var (code, _, error) = await CliRunner.RunAsync(convert);
            Assert.True(code == 0, $"{string.Join(' ', convert)}: {error}");
        }

        string root = Images.ReferenceRootfs;
        Files = Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Select(path => new FileInfo(path))
            .Where(f => f.LinkTarget is null && f.Length > 0 && (f.UnixFileMode & UnixFileMode.OtherRead) != 0)
            .OrderByDescending(f => f.Length)
            .Take(12)
            .Select(f => (Path.GetRelativePath(root, f.FullName), Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(f.FullName)))))
            .ToList();
        Assert.True(Files.Count >= 3, $"the conformance image has {Files.Count} readable files");
    }

    public Task DisposeAsync() => Images.DisposeAsync();
}
