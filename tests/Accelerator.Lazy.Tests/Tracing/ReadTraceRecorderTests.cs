using Accelerator.Cli.Commands;
using Accelerator.Lazy.Conversion;
using Accelerator.Lazy.Tests.Support;
using Accelerator.Lazy.Tracing;

namespace Accelerator.Lazy.Tests.Tracing;

public sealed class ReadTraceRecorderTests : IAsyncLifetime
{
    private FetchTestImage _image = null!;

    public async Task InitializeAsync() => _image = await FetchTestImage.CreateInTempAsync(extra: (tar, files) =>
    {
        tar.AddFile("odd ", "trailing space");
        files["/odd "] = "trailing space"u8.ToArray();
        tar.AddHardLink("small/hard", "small/f007.txt");
    });

    public Task DisposeAsync()
    {
        _image.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task WriteToFile_ReadsInFirstReadOrder_AcceptedByConvertPrefetchList()
    {
        var recorder = new ReadTraceRecorder(_image.Bootstrap);
        var (reader, _, cache) = _image.NewReader(observer: recorder);
        using var _ = cache;
        string[] order = ["/holes/middle.bin", "/small/f003.txt", "/odd ", "/big/text.txt", "/small/f003.txt", "/small/hard", "/empty"];
        foreach (string path in order)
        {
            await reader.ReadAsync(_image.Inode(path), 0, new byte[10]);
        }

        string list = Path.Combine(_image.Directory, "trace.txt");
        recorder.WriteToFile(list);

        // Re-read paths are listed once; the hard link under its first name; empty files are never read; a name the
        // list format cannot hold is left out.
        string[] expected = ["/holes/middle.bin", "/small/f003.txt", "/big/text.txt", "/small/f007.txt"];
        Assert.Equal(expected, ConvertCommand.ReadPrefetchList(list));
        Assert.Equal(1, recorder.Unrepresentable);
        Assert.Equal(5, recorder.Inodes.Count);

        // The converter takes the list as is.
        var source = ImageReference.Parse($"oci:{Path.Combine(_image.Directory, "source")}:v1");
        var (result, converted) = await Conversions.ToLayoutAsync(source, Path.Combine(_image.Directory, "again"), options: new LazyConvertOptions
        {
            ChunkSize = FetchTestImage.ChunkSize,
            PrefetchPaths = ConvertCommand.ReadPrefetchList(list),
        });
        Assert.Equal(0, result.PrefetchMissing);
        Assert.Equal(expected, converted.Bootstrap.PrefetchInodes.Select(i => converted.Bootstrap.GetEntry(i)!.Path));
    }

    [Fact]
    public async Task OnRead_ConcurrentReaders_EachFileOnce()
    {
        var recorder = new ReadTraceRecorder(_image.Bootstrap);
        var (reader, _, cache) = _image.NewReader(observer: recorder);
        using var _ = cache;
        var paths = Enumerable.Range(0, 50).Select(i => $"/small/f{i:D3}.txt").ToArray();

        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            foreach (string path in paths)
            {
                await reader.ReadAsync(_image.Inode(path), 0, new byte[10]);
            }
        })));

        Assert.Equal(paths.Order(StringComparer.Ordinal), recorder.Paths().Order(StringComparer.Ordinal));
    }
}
