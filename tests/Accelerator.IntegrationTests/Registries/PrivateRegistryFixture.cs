using System.Text;
using Accelerator.IntegrationTests.Cli;
using Accelerator.Oci.Copying;
using Accelerator.Oci.Layout;
using Accelerator.Testing.Samples;
using Accelerator.Testing.Registry;
using Accelerator.Testing.Trees;

namespace Accelerator.IntegrationTests.Registries;

/// <summary>
/// A private registry per auth mode (htpasswd and token, <see cref="PrivateRegistries"/>), shared by the tests of
/// <see cref="PrivateRegistryCollection"/>, each holding a small sample image as <see cref="Repository"/>:<see cref="Tag"/>;
/// and the tree a pull of that image must give, unpacked by <c>accel pull</c> from its OCI layout.
/// </summary>
public sealed class PrivateRegistryFixture : IAsyncLifetime
{
    public const string Repository = "private/app";
    public const string Tag = "v1";

    public string WorkDirectory { get; } = Directory.CreateTempSubdirectory("accel-private-it-").FullName;

    public PrivateRegistries Registries { get; private set; } = null!;

    public SampleImage Image { get; private set; } = null!;

    /// <summary>The image's files (regular files only) and their content, from an unpack of its OCI layout.</summary>
    public IReadOnlyDictionary<string, string> Files { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Registries = await PrivateRegistries.StartAsync();
        Image = await SampleImageGenerator.WriteLayoutAsync(Path.Combine(WorkDirectory, "layout"), new SampleImageOptions { TotalSize = 3 << 20, LayerCount = 3, Seed = 12, Tag = Tag });
        var layout = OciImageLayout.Open(Image.LayoutPath);
        foreach (var mode in new[] { RegistryAuthMode.Basic, RegistryAuthMode.Token })
        {
            await ImageCopier.CopyAsync(layout, ImageReference.Parse(Image.OciReference), Registries.Client.GetStore(Registries.Get(mode).Host), Reference(mode));
        }

        string unpacked = Path.Combine(WorkDirectory, "reference");
        var (code, _, error) = await CliRunner.RunAsync("pull", Image.OciReference, unpacked);
        Assert.True(code == 0, error);
        Files = RegularFiles(unpacked);
    }

    public async Task DisposeAsync()
    {
        await Registries.DisposeAsync();
        Directory.Delete(WorkDirectory, recursive: true);
    }

    /// <summary>The sample image in the registry of <paramref name="mode"/>.</summary>
    public ImageReference Reference(RegistryAuthMode mode) => ImageReference.Parse($"{Registries.Get(mode).Host}/{Repository}:{Tag}");

    /// <summary>A new directory under the fixture's work directory.</summary>
    public string NewDirectory(string name) => Directory.CreateDirectory(Path.Combine(WorkDirectory, $"{name}-{Guid.NewGuid():N}")).FullName;

    /// <summary>Regular files under <paramref name="root"/> (<c>lost+found</c> aside) with their sha256.</summary>
    public static IReadOnlyDictionary<string, string> RegularFiles(string root)
        => TreeSnapshot.Capture(root).Entries.Values
            .Where(e => e.Type == TreeEntryType.RegularFile && !e.Path.StartsWith("lost+found", StringComparison.Ordinal))
            .ToDictionary(e => e.Path, e => e.Sha256!, StringComparer.Ordinal);

    /// <summary>Asserts that the tree at <paramref name="root"/> has exactly the image's files.</summary>
    public void AssertImageFiles(string root)
    {
        var actual = RegularFiles(root);
        Assert.Equal(Files.OrderBy(f => f.Key, StringComparer.Ordinal), actual.OrderBy(f => f.Key, StringComparer.Ordinal));
    }

    /// <summary>Asserts that no secret (password, basic auth parameter) is in any of <paramref name="texts"/>.</summary>
    public void AssertNoSecrets(params string?[] texts)
    {
        foreach (string? text in texts)
        {
            foreach (string secret in Registries.Secrets)
            {
                Assert.False(text?.Contains(secret, StringComparison.Ordinal) == true, $"A secret was written: {text}");
            }
        }
    }

    /// <summary>Every file under <paramref name="directory"/>, read as text, for <see cref="AssertNoSecrets"/>.</summary>
    public static string[] ReadAllFiles(string directory)
        => Directory.Exists(directory)
            ? [.. Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories).Where(f => new FileInfo(f).Length < 1 << 20).Select(f => Encoding.UTF8.GetString(File.ReadAllBytes(f)))]
            : [];
}

[CollectionDefinition(Name)]
public sealed class PrivateRegistryCollection : ICollectionFixture<PrivateRegistryFixture>
{
    public const string Name = "Private registries";
}
