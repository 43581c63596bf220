using Accelerator.Testing.Processes;

namespace Accelerator.IntegrationTests.Seekable;

public sealed partial class SeekableMountTests
{
    // Prefetch lists and recorded traces work as for converted images: a trace recorded on a seekable mount is the
    // files in first-read order; indexed with it (accel index --prefetch-list), the next mount fetches those files'
    // spans in the background, before anything reads them, and the reads then fetch nothing more.
    [Fact]
    public async Task RecordTraceThenIndexWithIt_NextMountPrefetchesTheTracedFiles()
    {
        var (_, index) = await BaseLayerIndexAsync();
        var files = FilesInOneUnit(index, 4096, 1 << 20).Take(2).Select(f => f.Path).ToList();
        Assert.Equal(2, files.Count);
        string work = fixture.NewDirectory("trace");
        string mountPoint = Directory.CreateDirectory(Path.Combine(work, "rootfs")).FullName;
        string trace = Path.Combine(work, "trace.txt");
        await using (var server = AccelProcess.Start(
            "mount", "--plain-http", fixture.Indexed.ToString(), mountPoint, "--strategy", "lazy", "--read-only", "--no-takeover",
            "--cache-dir", Path.Combine(work, "cache"), "--state-dir", Path.Combine(work, "state"), "--record-trace", trace))
        {
            await server.WaitForOutputAsync("Mounted ", TimeSpan.FromMinutes(2));
            foreach (string file in files)
            {
                Assert.Equal(fixture.Expected[file].Sha256, Sha256Of(Path.Combine(mountPoint, file)));
            }

            var (code, _, error) = await AccelProcess.RunAsync("umount", mountPoint);
            Assert.True(code == 0, error);
            Assert.Equal(0, await server.WaitForExitAsync());
        }

        var traced = File.ReadAllLines(trace).Where(l => !l.StartsWith('#')).ToList();
        Assert.Equal(files.Select(f => "/" + f), traced);

        await fixture.Image.PushAsync(fixture.Registry.Host, "seekable/prefetched");
        var copy = ImageReference.Parse($"{fixture.Registry.Host}/seekable/prefetched:{fixture.Image.Tag}");
        var (indexCode, indexOutput, indexError) = await AccelProcess.RunAsync("--plain-http", "index", copy.ToString(), "--prefetch-list", trace);
        Assert.True(indexCode == 0, indexOutput + indexError);

        await using var mount = await MountAsync("prefetched", image: copy, prefetch: true);
        await mount.Mounted.PrefetchCompletion;
        long prefetched = LayerStatistics(mount, 0).BytesFetched;

        Assert.True(prefetched > 0, "the prefetch fetched nothing of the base layer");
        Assert.Equal(0, LayerStatistics(mount, 0).WholeReads);
        foreach (string file in files)
        {
            Assert.Equal(fixture.Expected[file].Sha256, Sha256Of(Path.Combine(mount.MountPoint, file)));
        }

        Assert.Equal(prefetched, LayerStatistics(mount, 0).BytesFetched);
    }
}
