using Accelerator.IntegrationTests.Cli;
using Accelerator.Oci.Copying;
using Accelerator.Oci.Layout;
using Accelerator.Oci.Model;
using Accelerator.Oci.Registry;
using Accelerator.Seekable.Index;
using Accelerator.Testing.Images;
using Accelerator.Testing.Registry;
using Accelerator.Testing.Samples;

namespace Accelerator.IntegrationTests.Seekable;

/// <summary>
/// Two real docker-registry 2.8 instances (no referrers API: the fallback tag's registry) and the private pair
/// (htpasswd and token auth). Registry A holds the minbase corpus image, indexed once with <c>accel index</c>, and a small
/// generated image (three gzip layers) indexed once in process; B is the target of copies and replication.
/// </summary>
public sealed class SeekableIndexFixture : IAsyncLifetime
{
    public const string CorpusRepository = "seekable/minbase";
    public const string SampleRepository = "seekable/sample";
    public const string SampleTag = "v1";

    public string WorkDirectory { get; } = Directory.CreateTempSubdirectory("accel-seekable-index-").FullName;

    public DockerRegistryProcess A { get; private set; } = null!;

    public DockerRegistryProcess B { get; private set; } = null!;

    public PrivateRegistries Private { get; private set; } = null!;

    public RegistryClient Client { get; } = new(TestRegistryOptions.Create());

    /// <summary>The corpus image in A.</summary>
    public ImageReference Corpus { get; private set; } = null!;

    /// <summary>What <c>accel index</c> printed for <see cref="Corpus"/>.</summary>
    public (int ExitCode, string Out, string Error) CorpusIndexRun { get; private set; }

    /// <summary>The generated image (its layout).</summary>
    public SampleImage Sample { get; private set; } = null!;

    /// <summary>The generated image in A, indexed.</summary>
    public ImageReference SampleInA { get; private set; } = null!;

    /// <summary>What indexing <see cref="SampleInA"/> reported.</summary>
    public SeekableIndexReport SampleReport { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        A = await DockerRegistryProcess.StartAsync();
        B = await DockerRegistryProcess.StartAsync();
        Private = await PrivateRegistries.StartAsync();

        var corpus = await DebianImageCorpus.GetAsync(DebianImageCorpus.Minbase);
        await corpus.PushAsync(A.Host, CorpusRepository);
        Corpus = ImageReference.Parse($"{A.Host}/{CorpusRepository}:{corpus.Tag}");
        CorpusIndexRun = await CliRunner.RunAsync("--plain-http", "index", Corpus.ToString());

        Sample = await SampleImageGenerator.WriteLayoutAsync(Path.Combine(WorkDirectory, "sample"), new SampleImageOptions { TotalSize = 3 << 20, LayerCount = 3, Seed = 16, Tag = SampleTag });
        SampleInA = ImageReference.Parse($"{A.Host}/{SampleRepository}:{SampleTag}");
        await CopyAsync(Sample.OciReference, SampleInA);
        SampleReport = await SeekableIndexer.IndexAsync(Client.GetStore(A.Host), SampleInA, new SeekableIndexerOptions { MinLayerSize = 0, SpanSize = 64 << 10 });
    }

    public async Task DisposeAsync()
    {
        foreach (IAsyncDisposable? started in new IAsyncDisposable?[] { Private, B, A })
        {
            if (started is not null)
            {
                await started.DisposeAsync();
            }
        }

        Client.Dispose();
        Directory.Delete(WorkDirectory, recursive: true);
    }

    /// <summary>Copies an image in process (layout or registry A/B), without its referrers unless asked.</summary>
    public Task<CopyResult> CopyAsync(string from, ImageReference to, bool referrers = false)
    {
        var source = ImageReference.Parse(from);
        IImageStore sourceStore = source.Kind == ImageReferenceKind.Layout ? OciImageLayout.Open(source.LayoutPath!) : Client.GetStore(source.Registry);
        IImageStore targetStore = to.Kind == ImageReferenceKind.Layout ? OciImageLayout.OpenOrCreate(to.LayoutPath!) : Client.GetStore(to.Registry);
        return ImageCopier.CopyAsync(sourceStore, source, targetStore, to, new CopyOptions { Referrers = referrers });
    }

    /// <summary>The descriptor of the manifest <paramref name="image"/> names.</summary>
    public async Task<Descriptor> ManifestAsync(IImageStore store, ImageReference image) => (await store.GetManifestAsync(image)).Descriptor;
}
