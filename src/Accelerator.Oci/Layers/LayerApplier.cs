using Accelerator.Oci.Model;

namespace Accelerator.Oci.Layers;

/// <summary>
/// Applies image layers onto a root directory safely: nothing outside the root is ever created, changed or
/// followed, whatever names, links or whiteouts the archive holds. Apply an image's layers lowest first onto the
/// same root; whiteouts and hard links then refer to the lower layers already on disk. Linux only.
/// </summary>
public static class LayerApplier
{
    /// <summary>Decompresses and applies one layer blob onto <paramref name="rootDirectory"/>.</summary>
    /// <param name="blob">The layer blob as stored (left open); it is read to its end.</param>
    /// <param name="compression">Its compression, or <see langword="null"/> to detect it from the first bytes.</param>
    /// <param name="rootDirectory">An existing directory to unpack into.</param>
    /// <param name="options">Limits and ownership handling; defaults when <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels between reads.</param>
    /// <returns>What was applied.</returns>
    /// <exception cref="InvalidDataException">The archive is malformed, or an entry is not allowed (such as a root that is not a directory).</exception>
    /// <exception cref="ContentTooLargeException">The layer exceeds <see cref="LayerApplyOptions.MaxUncompressedBytes"/> or <see cref="LayerApplyOptions.MaxEntries"/>.</exception>
    /// <exception cref="IOException">A file system operation failed, for example a path that does not lead to a directory inside the root.</exception>
    public static async Task<LayerApplyReport> ApplyAsync(
        Stream blob, LayerCompression? compression, string rootDirectory, LayerApplyOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(blob);
        options ??= new LayerApplyOptions();
        await using Stream tar = LayerStreams.OpenDecompressed(blob, compression, options.MaxUncompressedBytes, leaveOpen: true);
        await using var reader = new LayerTarReader(tar, new LayerTarReaderOptions { MaxEntries = options.MaxEntries }, leaveOpen: true);
        LayerApplyReport report = await ApplyAsync(reader, rootDirectory, options, cancellationToken).ConfigureAwait(false);

        // Read what follows the end-of-archive marker (block padding) so that the whole blob passes through the
        // decompressor's integrity checks and any digest-verifying stream the caller wrapped around it.
        await tar.CopyToAsync(Stream.Null, cancellationToken).ConfigureAwait(false);
        return report;
    }

    /// <summary>Applies the entries of an uncompressed layer, read from <paramref name="reader"/>, onto <paramref name="rootDirectory"/>.</summary>
    /// <param name="reader">The layer's entries; read to the end.</param>
    /// <param name="rootDirectory">An existing directory to unpack into.</param>
    /// <param name="options">Ownership handling; defaults when <see langword="null"/> (limits are the reader's).</param>
    /// <param name="cancellationToken">Cancels between reads.</param>
    /// <returns>What was applied.</returns>
    public static async Task<LayerApplyReport> ApplyAsync(
        LayerTarReader reader, string rootDirectory, LayerApplyOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentException.ThrowIfNullOrEmpty(rootDirectory);
        options ??= new LayerApplyOptions();
        using var application = new LayerApplication(RootedDirectory.Open(rootDirectory), options);
        while (await reader.ReadNextAsync(cancellationToken).ConfigureAwait(false) is { } entry)
        {
            await application.ApplyAsync(entry, cancellationToken).ConfigureAwait(false);
        }

        application.Finish();
        return application.Report;
    }
}
