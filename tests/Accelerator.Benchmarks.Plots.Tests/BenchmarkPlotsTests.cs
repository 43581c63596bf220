using SkiaSharp;

namespace Accelerator.Benchmarks.Plots.Tests;

public sealed class BenchmarkPlotsTests : IDisposable
{
    private readonly string _output = Directory.CreateTempSubdirectory("accel-plots-").FullName;

    public void Dispose() => Directory.Delete(_output, recursive: true);

    private static string Sample(string name) => Path.Combine(AppContext.BaseDirectory, "Samples", name);

    private static void AssertPng(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], bytes[..4]);
        using var bitmap = SKBitmap.Decode(bytes);
        Assert.NotNull(bitmap);
        Assert.Equal(BenchmarkPlots.Width, bitmap.Width);
        Assert.Equal(BenchmarkPlots.Height, bitmap.Height);
        // A rendered plot, not a blank canvas: more than a handful of distinct colours.
        var colours = new HashSet<SKColor>();
        for (int y = 0; y < bitmap.Height; y += 7)
        {
            for (int x = 0; x < bitmap.Width; x += 7)
            {
                colours.Add(bitmap.GetPixel(x, y));
            }
        }

        Assert.True(colours.Count > 3, $"{path} has only {colours.Count} colours");
    }

    [Fact]
    public void Render_LazySample_WritesThreeDecodablePngs()
    {
        var written = BenchmarkPlots.Render("lazy", Sample("lazy.json"), _output);

        Assert.Equal(["lazy-cold-start.png", "lazy-bytes-fetched.png", "lazy-warm-reads.png"], written.Select(Path.GetFileName));
        Assert.All(written, AssertPng);
    }

    [Fact]
    public void Render_P2PSample_WritesCompletionPlot()
    {
        var written = BenchmarkPlots.Render("p2p", Sample("p2p.json"), _output);

        Assert.Equal([Path.Combine(_output, "p2p-completion.png")], written);
        AssertPng(written[0]);
    }

    [Fact]
    public void Render_UnknownScenario_Throws()
    {
        var error = Assert.Throws<ArgumentException>(() => BenchmarkPlots.Render("mirrors", Sample("p2p.json"), _output));
        Assert.Contains("lazy, p2p", error.Message);
    }

    [Fact]
    public void Render_MissingFile_ThrowsFileNotFound()
        => Assert.Throws<FileNotFoundException>(() => BenchmarkPlots.Render("lazy", Path.Combine(_output, "none.json"), _output));

    [Theory]
    [InlineData("")]
    [InlineData("{")]
    [InlineData("[]")]
    [InlineData("{\"blobMb\": 1}")]
    [InlineData("{\"blobMb\": \"x\", \"rate\": \"1mbit\", \"rows\": []}")]
    [InlineData("{\"blobMb\": 1, \"rate\": \"1mbit\", \"rows\": [{\"n\": \"many\"}]}")]
    public void Render_MalformedData_ThrowsJsonException(string text)
    {
        string path = Path.Combine(_output, "bad.json");
        File.WriteAllText(path, text);

        Assert.ThrowsAny<System.Text.Json.JsonException>(() => BenchmarkPlots.Render("p2p", path, _output));
    }

    [Fact]
    public void Render_OversizedFile_ThrowsInvalidData()
    {
        string path = Path.Combine(_output, "big.json");
        File.WriteAllText(path, new string(' ', (1 << 20) + 1));

        Assert.Throws<InvalidDataException>(() => BenchmarkPlots.Render("lazy", path, _output));
    }

    [Fact]
    public void Render_RandomBytes_NeverThrowsAnythingButDataErrors()
    {
        // Fuzz-style: random and mutated inputs give a JSON error or a plot, nothing else.
        var random = new Random(7);
        byte[] sample = File.ReadAllBytes(Sample("p2p.json"));
        string path = Path.Combine(_output, "fuzz.json");
        for (int i = 0; i < 200; i++)
        {
            byte[] input = i % 2 == 0 ? [.. sample] : new byte[random.Next(0, 256)];
            if (i % 2 == 0)
            {
                for (int j = 0; j < 4; j++)
                {
                    input[random.Next(input.Length)] = (byte)random.Next(256);
                }
            }
            else
            {
                random.NextBytes(input);
            }

            File.WriteAllBytes(path, input);
            try
            {
                BenchmarkPlots.Render("p2p", path, Path.Combine(_output, "fuzz-out"));
            }
            catch (Exception ex) when (ex is System.Text.Json.JsonException or InvalidDataException)
            {
            }
        }
    }
}
