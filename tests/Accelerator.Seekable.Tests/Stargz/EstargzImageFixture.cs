using Accelerator.Oci.Layout;
using Accelerator.Testing.Images;
using Accelerator.Testing.Images.Estargz;

namespace Accelerator.Seekable.Tests.Stargz;

/// <summary>The layered Debian corpus image converted once per test class to eStargz by the reference implementation.</summary>
public sealed class EstargzImageFixture : IAsyncLifetime
{
    // Small chunks so that many files span several chunks (the library's default is 4 MiB).
    internal const int ChunkSize = 256 << 10;

    private readonly string _root = Path.Combine(Path.GetTempPath(), $"accel-estargz-{Guid.NewGuid():N}");

    /// <summary>The eStargz image's layout.</summary>
    public string LayoutPath => Path.Combine(_root, "layout");

    /// <summary>The image's tag.</summary>
    public string Tag { get; private set; } = string.Empty;

    /// <summary>The layout, opened.</summary>
    public OciImageLayout Layout { get; private set; } = null!;

    /// <summary>The image's layers as its manifest lists them.</summary>
    public IReadOnlyList<Descriptor> Layers { get; private set; } = [];

    /// <summary>What the producer reported per layer.</summary>
    public IReadOnlyList<EstargzLayer> Produced { get; private set; } = [];

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        var image = await DebianImageCorpus.GetAsync(DebianImageCorpus.Layered);
        Tag = image.Tag;
        Directory.CreateDirectory(_root);
        Produced = await EstargzTool.ConvertImageAsync(image.LayoutPath, image.Tag, LayoutPath,
            new EstargzConversionOptions { ChunkSize = ChunkSize, PrioritizedFiles = ["etc/os-release", "usr/bin/dpkg"] });
        Layout = OciImageLayout.Open(LayoutPath);
        var manifest = await Layout.GetManifestAsync(ImageReference.Parse($"oci:{LayoutPath}:{Tag}"));
        Layers = manifest.Manifest!.Layers;
    }

    /// <summary>The bytes of a blob of the layout.</summary>
    public byte[] ReadBlob(Descriptor blob) => File.ReadAllBytes(Layout.GetBlobPath(blob.Digest));

    /// <inheritdoc />
    public Task DisposeAsync()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }

        return Task.CompletedTask;
    }
}
