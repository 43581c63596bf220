using Accelerator.Oci.Layout;
using Accelerator.Testing.Images;

namespace Accelerator.Seekable.Tests.Stargz;

/// <summary>The layered Debian corpus image converted to eStargz by the reference implementation (cached, <see cref="SeekableCorpus"/>).</summary>
public sealed class EstargzImageFixture : IAsyncLifetime
{
    /// <summary>The eStargz image.</summary>
    public DebianImage Image { get; private set; } = null!;

    /// <summary>Its layout, opened.</summary>
    public OciImageLayout Layout { get; private set; } = null!;

    /// <summary>The image's layers as its manifest lists them.</summary>
    public IReadOnlyList<Descriptor> Layers { get; private set; } = [];

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        Image = await SeekableCorpus.GetEstargzAsync(DebianImageCorpus.Layered);
        Layout = OciImageLayout.Open(Image.LayoutPath);
        Layers = (await Layout.GetManifestAsync(ImageReference.Parse(Image.OciReference))).Manifest!.Layers;
    }

    /// <summary>The bytes of a blob of the layout.</summary>
    public byte[] ReadBlob(Descriptor blob) => File.ReadAllBytes(Layout.GetBlobPath(blob.Digest));

    /// <inheritdoc />
    public Task DisposeAsync() => Task.CompletedTask;
}
