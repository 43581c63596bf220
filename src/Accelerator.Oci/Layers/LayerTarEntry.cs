namespace Accelerator.Oci.Layers;

/// <summary>
/// One entry of a tar archive being read by a <see cref="LayerTarReader"/>. Its data is read in place from the
/// archive: it is valid only until the reader moves to the next entry.
/// </summary>
public sealed class LayerTarEntry
{
    internal LayerTarEntry(TarEntryHeader header, Stream data, long dataOffset)
    {
        Header = header;
        Data = data;
        DataOffset = dataOffset;
    }

    /// <summary>The entry's metadata.</summary>
    public TarEntryHeader Header { get; }

    /// <summary>
    /// The bytes the archive stores for the entry: the whole content of a regular file or, for a sparse file, its
    /// data segments one after another (see <see cref="TarEntryHeader.SparseMap"/>). Empty for other kinds.
    /// </summary>
    public Stream Data { get; }

    /// <summary>
    /// Where <see cref="Data"/> starts in the archive stream: the number of archive bytes the reader had consumed when
    /// it returned this entry (it never reads ahead). An index of the uncompressed stream records it to find a file's
    /// content without reading the archive.
    /// </summary>
    public long DataOffset { get; }

    /// <summary>
    /// Opens the file's logical content: for a sparse file the segments are placed at their offsets and holes read
    /// as zeros, up to <see cref="TarEntryHeader.Size"/>; for a dense file this is <see cref="Data"/>.
    /// Reads consume <see cref="Data"/>.
    /// </summary>
    public Stream OpenContent() =>
        Header.SparseMap is { } map ? new SparseContentStream(Data, map, Header.Size) : Data;
}
