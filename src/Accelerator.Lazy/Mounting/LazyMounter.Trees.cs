using Accelerator.Chunks.Caching;
using Accelerator.Fuse.FileSystem;
using Accelerator.Lazy.Format;
using Accelerator.Lazy.Prefetch;
using Accelerator.Lazy.Reading;
using Accelerator.Lazy.Seekable;
using Accelerator.Lazy.Statistics;
using Accelerator.Lazy.Tracing;
using Accelerator.Oci;
using Accelerator.Seekable.Reading;
using Microsoft.Extensions.Logging;

namespace Accelerator.Lazy.Mounting;

public sealed partial class LazyMounter
{
    /// <summary>
    /// What a lazy mount serves: a converted image (one tree, chunks from its data blobs) or an unconverted one (a
    /// forest of layer trees read from the original layers). <see cref="MountTreeAsync"/> does the rest for both.
    /// </summary>
    private abstract class LazyTree
    {
        /// <summary>The image whose bytes are read (the converted variant, or the image itself).</summary>
        public abstract ImageReference Reference { get; }

        public abstract Digest ManifestDigest { get; }

        /// <summary>What a takeover compares: the manifest served, and for a seekable mount the index artifact too.</summary>
        public abstract string Identity { get; }

        public abstract LazyMountStatistics Statistics { get; }

        /// <summary>True when the FUSE root holds one directory per layer, stacked by an overlay.</summary>
        public abstract bool IsForest { get; }

        /// <summary>The FUSE tree and its content, over the mount's cache (and trace, when one is asked for).</summary>
        public abstract (IChunkIndex Index, IFileContentReader Content) Open(MountResources resources);

        /// <summary>The overlay's lower directories, topmost first, for the FUSE tree mounted at <paramref name="fuseMountPoint"/>.</summary>
        public abstract IReadOnlyList<string> LowerDirectories(string fuseMountPoint);

        /// <summary>The background work once mounted (prefetch, index verification), or null.</summary>
        public abstract Func<CancellationToken, Task>? Background();
    }

    private sealed class ConvertedTree(LazyMounter mounter, LazyImage lazy, ImageReference reference) : LazyTree
    {
        private LazyFileReader? _reader;

        public override ImageReference Reference => reference;

        public override Digest ManifestDigest => lazy.Image.Manifest.Digest;

        public override string Identity => lazy.Image.Manifest.Digest.ToString();

        public override LazyMountStatistics Statistics { get; } = new(new MountStatistics { Strategy = Strategy.Lazy, Source = MountStatistics.ConvertedSource });

        public override bool IsForest => false;

        public override (IChunkIndex Index, IFileContentReader Content) Open(MountResources resources)
        {
            resources.Trace = mounter._options.TracePath is null ? null : new ReadTraceRecorder(lazy.Bootstrap);
            _reader = LazyFileReader.Create(
                lazy, resources.Cache!, mounter.ReaderOptions(ImageStoreResolver.SourceName(reference)), Statistics,
                resources.Trace, mounter._loggerFactory.CreateLogger<LazyFileReader>(), mounter._time);
            return (lazy.Bootstrap, new LazyContentReader(_reader));
        }

        public override IReadOnlyList<string> LowerDirectories(string fuseMountPoint) => [fuseMountPoint];

        public override Func<CancellationToken, Task>? Background()
            => mounter._options.Prefetch
                ? new LazyPrefetcher(_reader!, mounter._loggerFactory.CreateLogger<LazyPrefetcher>(), mounter._time).RunAsync
                : null;
    }

    private sealed class SeekableTree : LazyTree
    {
        private readonly LazyMounter _mounter;
        private readonly SeekableImage _image;
        private readonly ILogger _logger;
        private readonly SeekableForest _forest;
        private SeekableContentReader? _reader;
        private SeekableMountContent? _content;

        public SeekableTree(LazyMounter mounter, SeekableImage image, LazyMountStatistics statistics)
        {
            _mounter = mounter;
            _image = image;
            _logger = mounter._loggerFactory.CreateLogger<SeekableContentReader>();
            Statistics = statistics;
            statistics.Source = MountStatistics.SeekableSource;
            statistics.IndexDescription = image.Plan.IndexDescription;
            statistics.IndexArtifact = image.Plan.Artifact?.Digest;
            statistics.IndexVerification = mounter._options.VerifyIndexedLayers ? "none" : null;
            statistics.Layers = image.Statistics;

            // Built before anything is mounted or claimed, so an unusable layer (a hard link to nothing) fails early.
            // The same indexes in the same order give the same inode numbers, so a takeover resumes on the same nodes.
            _forest = new SeekableForest(image.Layers);
        }

        public override ImageReference Reference => _image.Plan.Image.Image;

        public override Digest ManifestDigest => _image.Plan.Image.Manifest.Digest;

        public override string Identity => $"{ManifestDigest} seekable-index {_image.Plan.Artifact?.Digest.ToString() ?? "none"}";

        public override LazyMountStatistics Statistics { get; }

        public override bool IsForest => true;

        public override (IChunkIndex Index, IFileContentReader Content) Open(MountResources resources)
        {
            SeekableForest forest = _forest;
            resources.Trace = _mounter._options.TracePath is null ? null : new ReadTraceRecorder(forest.PathOf);
            var observer = new SeekableMountObserver(Statistics, resources.Trace, _logger);
            LazyReaderOptions reader = _mounter.ReaderOptions(ImageStoreResolver.SourceName(Reference));
            var options = new SeekableReaderOptions { RequestTimeout = reader.RequestTimeout, SourceName = reader.SourceName };
            _reader = new SeekableContentReader(forest, _image.Blobs, resources.Cache!, options, observer, _logger, _mounter._time);
            foreach (var (layer, unit, bytes) in _image.Primed)
            {
                _reader.Prime(layer, unit, bytes);
            }

            _content = new SeekableMountContent(_reader);
            return (forest, _content);
        }

        public override IReadOnlyList<string> LowerDirectories(string fuseMountPoint)
            => [.. Enumerable.Range(0, _image.Layers.Count).Reverse().Select(i => Path.Combine(fuseMountPoint, SeekableForest.LayerDirectoryName(i)))];

        public override Func<CancellationToken, Task>? Background()
        {
            bool prefetch = _mounter._options.Prefetch && _image.Plan.Artifact is not null;
            bool verify = _mounter._options.VerifyIndexedLayers && _image.Plan.Layers.Any(l => l.Source == SeekableLayerSource.Index);
            return prefetch || verify ? token => RunBackgroundAsync(prefetch, verify, token) : null;
        }

        // The artifact's prefetch list first, then (--verify-index) the layers read through the artifact's indexes. Never
        // fails the mount: a prefetch error is logged, a lying index fails the reads.
        private async Task RunBackgroundAsync(bool prefetch, bool verify, CancellationToken cancellationToken)
        {
            if (prefetch)
            {
                long started = _mounter._time.GetTimestamp();
                Statistics.PrefetchStarted();
                try
                {
                    IReadOnlyList<string> paths = await _image.Plan.Artifact!.ReadPrefetchListAsync(cancellationToken).ConfigureAwait(false);
                    await _reader!.PrefetchAsync(PrefetchInodes(_forest, paths), cancellationToken).ConfigureAwait(false);
                    Statistics.PrefetchEnded("completed", _mounter._time.GetElapsedTime(started));
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    Statistics.PrefetchEnded("canceled", _mounter._time.GetElapsedTime(started));
                    throw;
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    Statistics.PrefetchEnded("failed", _mounter._time.GetElapsedTime(started));
                    _mounter.LogPrefetchFailed(Reference, ex.Message);
                }
            }

            if (verify)
            {
                Statistics.IndexVerification = "running";
                string? failure;
                try
                {
                    failure = await new SeekableIndexVerifier(_logger).VerifyAsync(_image, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    Statistics.IndexVerification = "canceled";
                    throw;
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    // Not a verdict on the index (the registry may be away): reads go on, the outcome says why.
                    Statistics.IndexVerification = "not verified: " + ex.Message;
                    return;
                }

                if (failure is not null)
                {
                    _content!.Fail(failure);
                    Statistics.IndexVerification = "failed: " + failure;
                }
                else
                {
                    Statistics.IndexVerification = "verified";
                }
            }
        }

        // A path of the merged image is the topmost layer's entry at that path: a regular file there is prefetched; any
        // other entry (a whiteout, a directory) hides the layers below.
        private static IEnumerable<ulong> PrefetchInodes(SeekableForest forest, IReadOnlyList<string> paths)
        {
            foreach (string path in paths)
            {
                for (int layer = forest.Layers.Count - 1; layer >= 0; layer--)
                {
                    if (forest.FindPath(layer, path) is { } inode)
                    {
                        if (forest.FileOf(inode) is not null)
                        {
                            yield return inode;
                        }

                        break;
                    }
                }
            }
        }
    }

    /// <summary>Chunk reads of a lazy image as FUSE file content; every exception becomes EIO to the reader.</summary>
    private sealed class LazyContentReader(LazyFileReader reader) : IFileContentReader
    {
        public ValueTask<int> ReadAsync(ulong inode, long offset, Memory<byte> buffer, CancellationToken cancellationToken)
            => reader.ReadAsync(inode, offset, buffer, cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The prefetch of {Image} failed: {Reason}; files are fetched when read.")]
    private partial void LogPrefetchFailed(ImageReference image, string reason);
}
