using Accelerator.Block.Tests.Support;
using Accelerator.Testing.Images;
using Accelerator.Testing.Trees;

namespace Accelerator.Block.Tests.Mounting;

/// <summary>
/// The foundation's conformance image unpacked by umoci (the reference tree), and a raw ext4 image of that tree made
/// with <c>mke2fs -d</c> — the stand-in for a block image until the block format is merged.
/// </summary>
public sealed class ConformanceImageFixture : IAsyncLifetime
{
    private readonly TempDirectory _directory = new();

    public string Directory => _directory.Path;

    public string ReferenceRootfs { get; private set; } = string.Empty;

    public TreeSnapshot ReferenceSnapshot { get; private set; } = null!;

    /// <summary>The ext4 image; tests copy it before writing.</summary>
    public string ImagePath { get; private set; } = string.Empty;

    public string ImageSha256 { get; private set; } = string.Empty;

    public async Task InitializeAsync()
    {
        using var image = await ConformanceImage.BuildAsync(_directory.Path);
        ReferenceRootfs = await image.UnpackWithUmociAsync(_directory.Combine("bundle"));
        ReferenceSnapshot = TreeSnapshot.Capture(ReferenceRootfs);
        ImagePath = await Ext4Images.BuildAsync(ReferenceRootfs, _directory.Combine("conformance.ext4"));
        ImageSha256 = RawImages.Sha256(ImagePath);
    }

    public string NewMountPoint() => System.IO.Directory.CreateDirectory(_directory.Combine("mnt-" + Guid.NewGuid().ToString("N")[..8])).FullName;

    public Task DisposeAsync()
    {
        _directory.Dispose();
        return Task.CompletedTask;
    }
}
