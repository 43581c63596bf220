using Accelerator.Testing.Images;
using Accelerator.Testing.Registry;

namespace Accelerator.IntegrationTests;

/// <summary>
/// One real docker-registry on loopback holding the conformance image (built with umoci and GNU tar) pushed by
/// skopeo in both manifest formats, plus umoci's own unpack of it as the reference tree.
/// </summary>
public sealed class ConformanceImageFixture : IAsyncLifetime
{
    public const string OciRepository = "conformance/oci";
    public const string DockerRepository = "conformance/docker";

    private readonly string _work = Directory.CreateTempSubdirectory("accel-it-").FullName;

    public DockerRegistryProcess Registry { get; private set; } = null!;

    public ConformanceImage Image { get; private set; } = null!;

    /// <summary>umoci's unpack of the image: the tree every pull must equal.</summary>
    public string ReferenceRootfs { get; private set; } = null!;

    public string WorkDirectory => _work;

    public ImageReference Reference(string repository) => ImageReference.Parse($"{Registry.Host}/{repository}:{Image.Tag}");

    public async Task InitializeAsync()
    {
        Registry = await DockerRegistryProcess.StartAsync();
        Image = await ConformanceImage.BuildAsync(_work);
        await Image.PushAsync(Registry.Host, OciRepository, PushManifestFormat.Oci);
        await Image.PushAsync(Registry.Host, DockerRepository, PushManifestFormat.DockerV2Schema2);
        ReferenceRootfs = await Image.UnpackWithUmociAsync(Path.Combine(_work, "umoci-bundle"));
    }

    public async Task DisposeAsync()
    {
        await Registry.DisposeAsync();
        Image.Dispose();
        Directory.Delete(_work, recursive: true);
    }
}
