using System.Text;
using Accelerator.Oci.Layers;
using Accelerator.Oci.Validation;

namespace Accelerator.Seekable.Gzip;

/// <summary>
/// Builds the <see cref="GzipLayerIndex"/> of a plain layer blob in one forward pass: the blob is hashed against the
/// layer digest, inflated (gzip, any number of members) or passed through (uncompressed tar), checkpointed every span,
/// each span hashed, and the tar entries read on the way with where each file's data starts.
/// </summary>
/// <remarks>
/// Streams: memory stays at a few buffers (plus the current span when a unit callback is given), whatever the layer's
/// size. Nothing is returned unless the whole blob is the layer: a blob that is not (including one so corrupt that it
/// does not inflate or parse) raises <see cref="DigestMismatchException"/>.
/// </remarks>
public static class GzipIndexBuilder
{
    /// <summary>Reads <paramref name="blob"/> (the layer <paramref name="layer"/>) once and returns its index.</summary>
    /// <param name="blob">The layer blob, read forward to its end (not disposed).</param>
    /// <param name="layer">The layer's descriptor: its digest and size are checked.</param>
    /// <param name="options">Span size and limits; defaults when null.</param>
    /// <param name="onUnit">
    /// Called with each unit and its decoded bytes as the pass completes it (the bytes are valid only during the call).
    /// The blob's digest is known only at the end: the caller must not publish or cache what it is given before this
    /// method returns successfully. Each unit is given exactly as the returned index lists it, in order.
    /// </param>
    /// <param name="cancellationToken">Cancels the pass.</param>
    /// <exception cref="DigestMismatchException">The blob is not the layer (digest or size).</exception>
    /// <exception cref="NotSupportedException">The layer cannot be indexed: zstd-compressed, a sparse file, a name or attribute over the index's bounds, a deflate block over 64 MiB.</exception>
    /// <exception cref="InvalidDataException">The layer is the one named but is not a valid gzip stream or tar archive.</exception>
    /// <exception cref="ContentTooLargeException">The layer is over <see cref="GzipIndexOptions.MaxUncompressedBytes"/> or <see cref="GzipIndexOptions.MaxEntries"/>.</exception>
    public static async Task<GzipLayerIndex> BuildAsync(
        Stream blob, Descriptor layer, GzipIndexOptions? options = null,
        Func<SeekableUnit, ReadOnlyMemory<byte>, ValueTask>? onUnit = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(blob);
        ArgumentNullException.ThrowIfNull(layer);
        options ??= new GzipIndexOptions();
        new GzipIndexOptionsValidator().ThrowIfOutOfRange(options, "gzip index");

        await using var stream = new LayerIndexingStream(blob, layer, options.SpanSize, options.MaxUncompressedBytes, onUnit);
        var entries = new List<SeekableEntry>();
        try
        {
            await stream.StartAsync(cancellationToken).ConfigureAwait(false);
            using var tar = new LayerTarReader(stream, new LayerTarReaderOptions { MaxEntries = options.MaxEntries }, leaveOpen: true);
            while (await tar.ReadNextAsync(cancellationToken).ConfigureAwait(false) is { } entry)
            {
                TarEntryHeader header = entry.Header;
                CheckIndexable(layer, header);
                entries.Add(new SeekableEntry(header, header.Kind == TarEntryKind.RegularFile && header.Size > 0 ? entry.DataOffset : 0));
            }

            await stream.DrainAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is InvalidDataException or NotSupportedException or ContentTooLargeException)
        {
            await stream.VerifyAfterFailureAsync(cancellationToken).ConfigureAwait(false);
            throw;
        }

        stream.Verify();
        return stream.CreateIndex(entries);
    }

    private static void CheckIndexable(Descriptor layer, TarEntryHeader header)
    {
        string? problem = null;
        if (header.SparseMap is not null)
        {
            problem = "is a sparse file (its stored bytes are not its content)";
        }
        else if (TooLong(header.Path) || TooLong(header.LinkTarget) || TooLong(header.UserName) || TooLong(header.GroupName))
        {
            problem = $"has a name, link target or owner name over {GzipLayerIndex.MaxNameBytes} bytes";
        }
        else if (header.ExtendedAttributes.Count > GzipLayerIndex.MaxAttributesPerEntry
            || header.ExtendedAttributes.Any(a => TooLong(a.Key) || a.Value.Length > GzipLayerIndex.MaxAttributeValueBytes))
        {
            problem = "has extended attributes over the index's bounds";
        }

        if (problem is not null)
        {
            throw new NotSupportedException($"Layer {layer.Digest} cannot be indexed: tar entry '{header.Path}' {problem}.");
        }
    }

    private static bool TooLong(string? value) => value is not null && Encoding.UTF8.GetByteCount(value) > GzipLayerIndex.MaxNameBytes;
}
