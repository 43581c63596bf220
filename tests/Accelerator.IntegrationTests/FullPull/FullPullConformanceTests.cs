using Accelerator.Oci.Pulling;
using Accelerator.Oci.Registry;
using Accelerator.Testing.Trees;

namespace Accelerator.IntegrationTests.FullPull;

/// <summary>
/// The conformance test of the foundation: an image with every kind of layer entry, built with umoci and pushed to a
/// real docker-registry with skopeo, pulls to a tree equal to umoci's unpack entry by entry.
/// </summary>
public sealed class FullPullConformanceTests(ConformanceImageFixture fixture) : IClassFixture<ConformanceImageFixture>
{
    [Theory]
    [InlineData(ConformanceImageFixture.OciRepository)]
    [InlineData(ConformanceImageFixture.DockerRepository)]
    public async Task PullAsync_ConformanceImage_EqualsUmociUnpack(string repository)
    {
        using var client = new RegistryClient(new RegistryOptions { PlainHttp = true });
        var image = fixture.Reference(repository);
        string target = Path.Combine(fixture.WorkDirectory, "pull-" + repository.Replace('/', '-'));

        var result = await ImagePuller.PullAsync(client.GetStore(image.Registry), image, target);

        Assert.Equal(target, result.TargetDirectory);
        var differences = TreeSnapshot.Compare(TreeSnapshot.Capture(fixture.ReferenceRootfs), TreeSnapshot.Capture(target));
        Assert.True(differences.Count == 0, "The pulled tree differs from umoci's:\n" + string.Join("\n", differences));
        Assert.Equal(3, result.Image.Layers.Count);
        Assert.Empty(Directory.EnumerateDirectories(fixture.WorkDirectory, ".accel-pull-*"));
    }

    [Fact]
    public async Task PullAsync_ConformanceImage_KeepsSparseFileHoles()
    {
        using var client = new RegistryClient(new RegistryOptions { PlainHttp = true });
        var image = fixture.Reference(ConformanceImageFixture.OciRepository);
        string target = Path.Combine(fixture.WorkDirectory, "pull-sparse");

        await ImagePuller.PullAsync(client.GetStore(image.Registry), image, target);

        var sparse = TreeSnapshot.Capture(target)[Testing.Images.ConformancePaths.SparseFile];
        Assert.True(sparse.AllocatedSize < sparse.Size / 2, $"sparse file allocates {sparse.AllocatedSize} of {sparse.Size} bytes");
    }

    [Fact]
    public async Task PullAsync_NonEmptyTarget_FailsAndChangesNothing()
    {
        using var client = new RegistryClient(new RegistryOptions { PlainHttp = true });
        var image = fixture.Reference(ConformanceImageFixture.OciRepository);
        string target = Path.Combine(fixture.WorkDirectory, "occupied");
        Directory.CreateDirectory(target);
        File.WriteAllText(Path.Combine(target, "keep.txt"), "mine");

        var ex = await Assert.ThrowsAsync<IOException>(() => ImagePuller.PullAsync(client.GetStore(image.Registry), image, target));

        Assert.Contains("not empty", ex.Message);
        Assert.Equal(["keep.txt"], Directory.EnumerateFileSystemEntries(target).Select(Path.GetFileName));
    }
}
