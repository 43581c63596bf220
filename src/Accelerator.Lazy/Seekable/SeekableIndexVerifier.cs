using System.Globalization;
using Accelerator.Oci.Layers;
using Accelerator.Seekable;
using Accelerator.Seekable.Gzip;
using Microsoft.Extensions.Logging;

namespace Accelerator.Lazy.Seekable;

/// <summary>
/// <see cref="Mounting.LazyMountOptions.VerifyIndexedLayers"/> (<c>accel mount --verify-index</c>): a seekable index's span
/// digests and file table are the indexer's claims, bound to the layer only by the digest it names. In the background,
/// after the prefetch, each layer read through an index from the artifact is fetched whole, its blob hashed against
/// the layer digest, and its index built again from the verified bytes; the artifact's index must say exactly the same
/// (every entry, every unit with its digest). A mismatch means the index lied: it is logged as an error and every
/// further read of the mount fails (EIO).
/// </summary>
internal sealed partial class SeekableIndexVerifier(ILogger logger)
{
    /// <summary>Verifies the layers of <paramref name="image"/> that came from the artifact; returns null when all match, else the failure.</summary>
    public async Task<string?> VerifyAsync(SeekableImage image, CancellationToken cancellationToken)
    {
        for (int i = 0; i < image.Layers.Count; i++)
        {
            if (image.Plan.Layers[i].Source != SeekableLayerSource.Index || image.Layers[i] is not GzipLayerIndex claimed)
            {
                continue;
            }

            var (source, address) = image.Blobs[i];
            string? failure;
            try
            {
                await using Stream blob = await source.OpenReadAsync(address, cancellationToken).ConfigureAwait(false);
                GzipLayerIndex actual = await GzipIndexBuilder.BuildAsync(
                    blob, claimed.Layer, new GzipIndexOptions { SpanSize = claimed.SpanSize }, cancellationToken: cancellationToken).ConfigureAwait(false);
                failure = Difference(claimed, actual);
            }
            catch (Exception ex) when (ex is DigestMismatchException or InvalidDataException or NotSupportedException)
            {
                failure = ex.Message;
            }

            if (failure is not null)
            {
                string reason = string.Create(CultureInfo.InvariantCulture, $"the seekable index of layer {i} {claimed.Layer.Digest} does not match the layer: {failure}");
                LogLied(reason);
                return reason;
            }

            LogVerified(i, claimed.Layer.Digest);
        }

        return null;
    }

    /// <summary>The first difference between the index an artifact claims and the one built from the verified layer, or null.</summary>
    internal static string? Difference(SeekableLayerIndex claimed, SeekableLayerIndex actual)
    {
        if (claimed.Format != actual.Format)
        {
            return $"format {claimed.Format}, the layer is {actual.Format}";
        }

        if (claimed.Entries.Count != actual.Entries.Count)
        {
            return string.Create(CultureInfo.InvariantCulture, $"{claimed.Entries.Count} entries, the layer has {actual.Entries.Count}");
        }

        for (int i = 0; i < claimed.Entries.Count; i++)
        {
            SeekableEntry c = claimed.Entries[i], a = actual.Entries[i];
            if (c.DataOffset != a.DataOffset || !SameHeader(c.Header, a.Header))
            {
                return string.Create(CultureInfo.InvariantCulture, $"entry {i} is {c.Header} at {c.DataOffset}, the layer has {a.Header} at {a.DataOffset}");
            }
        }

        if (claimed.Units.Count != actual.Units.Count)
        {
            return string.Create(CultureInfo.InvariantCulture, $"{claimed.Units.Count} units, the layer gives {actual.Units.Count}");
        }

        for (int i = 0; i < claimed.Units.Count; i++)
        {
            if (claimed.Units[i] != actual.Units[i])
            {
                return string.Create(CultureInfo.InvariantCulture, $"unit {i} is {claimed.Units[i]}, the layer gives {actual.Units[i]}");
            }
        }

        return null;
    }

    private static bool SameHeader(TarEntryHeader c, TarEntryHeader a)
        => c.Path == a.Path && c.Kind == a.Kind && c.Mode == a.Mode && c.Uid == a.Uid && c.Gid == a.Gid && c.Size == a.Size
           && c.ModificationTime.Equals(a.ModificationTime) && c.LinkTarget == a.LinkTarget && c.DeviceMajor == a.DeviceMajor
           && c.DeviceMinor == a.DeviceMinor && c.ExtendedAttributes.Count == a.ExtendedAttributes.Count
           && c.ExtendedAttributes.All(p => a.ExtendedAttributes.TryGetValue(p.Key, out var v) && v.Span.SequenceEqual(p.Value.Span));

    [LoggerMessage(Level = LogLevel.Error, Message = "The seekable index lied: {Reason}. Every further read of the mount fails (EIO).")]
    private partial void LogLied(string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Verified the seekable index of layer {Layer} {Digest} against the whole layer.")]
    private partial void LogVerified(int layer, Digest digest);
}
