using Accelerator.Block.Conversion;
using Accelerator.Block.Tests.Support;
using Accelerator.Testing.Host;

namespace Accelerator.Block.Tests.Issues;

/// <summary>
/// Issue 12, B13: a block conversion unpacks the image (set-user-ID files owned by root included) into a work
/// directory in the temp directory, which was created 0755: any local user could run the image's set-user-ID
/// programs while the disk was being built. The work directory is now 0700.
/// </summary>
[Collection(BlockCollection.Name)]
public sealed class Issue12_ConversionWorkDirectoryTests(BlockFixture fixture) : IDisposable
{
    private readonly string _temp = UnprivilegedUser.CreateTraversableDirectory("accel-issue12-convert-");

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    [Fact]
    public async Task ConvertAsync_WhileBuilding_WorkDirectoryIs0700()
    {
        var modes = new List<UnixFileMode>();
        var progress = new SynchronousProgress(_ =>
        {
            foreach (string directory in Directory.EnumerateDirectories(_temp))
            {
                modes.Add(File.GetUnixFileMode(directory));
            }
        });

        await fixture.ConvertAsync(fixture.NewDirectory("issue12-layout"), "issue12", BlockFixture.ConvertOptions with { TempDirectory = _temp, Progress = progress });

        Assert.NotEmpty(modes);
        Assert.All(modes, mode => Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, mode));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_temp));
    }

    private sealed class SynchronousProgress(Action<BlockConvertProgress> report) : IProgress<BlockConvertProgress>
    {
        public void Report(BlockConvertProgress value) => report(value);
    }
}
