using Accelerator.Oci.Layout;
using Accelerator.Testing.Conformance;

namespace Accelerator.Oci.Tests.Layout;

/// <summary>The blob-source conformance suite run against <see cref="OciImageLayout.Blobs"/>.</summary>
public sealed class LayoutBlobSourceConformanceTests : BlobSourceConformanceTests, IDisposable
{
    private readonly TempDirectory _directory = new();

    protected override Task<IBlobSource> CreateSourceAsync(IReadOnlyList<KeyValuePair<Digest, byte[]>> blobs)
    {
        var layout = OciImageLayout.Create(_directory.Combine("layout"));
        foreach (var (digest, content) in blobs)
        {
            // Written directly, not through PushBlobAsync, so that corrupted entries stay corrupted.
            string path = layout.GetBlobPath(digest);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, content);
        }

        return Task.FromResult(layout.Blobs);
    }

    public void Dispose() => _directory.Dispose();
}
