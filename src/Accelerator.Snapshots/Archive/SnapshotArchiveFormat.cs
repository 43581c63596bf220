using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text.Json;
using Accelerator.Block.Format;
using Accelerator.Snapshots.Storage;

namespace Accelerator.Snapshots.Archive;

/// <summary>
/// The snapshot archive's layout: its entry names and bounds, reading and checking its header and entries, and
/// writing an archive while hashing it (the descriptor of what was written). Both the tree and the block archiver use it.
/// </summary>
internal static class SnapshotArchiveFormat
{
    internal const string HeaderEntry = "snapshot.json";
    internal const string ManifestEntry = "image/manifest.json";
    internal const string ConfigEntry = "image/config.json";
    internal const int MaxHeaderSize = 1 << 20;
    internal const int MaxArchiveLayers = 256;
    internal const string BlockManifestEntry = "block/manifest.json";
    internal const string BlockIndexEntry = "block/index";
    internal const string BlockDataEntry = "block/data";

    internal static async Task<Descriptor> WriteArchiveAsync(
        Stream destination, SnapshotArchiveHeader header, ReadOnlyMemory<byte> manifest, ReadOnlyMemory<byte> config, Func<TarWriter, Task> writeRest, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var counting = new HashingWriteStream(destination, hash);
        await using (var writer = new TarWriter(counting, TarEntryFormat.Pax, leaveOpen: true))
        {
            byte[] json = JsonSerializer.SerializeToUtf8Bytes(header, RecordJson.Default.SnapshotArchiveHeader);
            await writer.WriteEntryAsync(new PaxTarEntry(TarEntryType.RegularFile, HeaderEntry) { DataStream = new MemoryStream(json) }, cancellationToken).ConfigureAwait(false);
            await writer.WriteEntryAsync(new PaxTarEntry(TarEntryType.RegularFile, ManifestEntry) { DataStream = new MemoryStream(manifest.ToArray()) }, cancellationToken).ConfigureAwait(false);
            await writer.WriteEntryAsync(new PaxTarEntry(TarEntryType.RegularFile, ConfigEntry) { DataStream = new MemoryStream(config.ToArray()) }, cancellationToken).ConfigureAwait(false);
            await writeRest(writer).ConfigureAwait(false);
        }

        await counting.FlushAsync(cancellationToken).ConfigureAwait(false);
        return new Descriptor(SnapshotStore.ArchiveMediaType, Digest.FromHash(Digest.Sha256, hash.GetHashAndReset()), counting.Written);
    }

    internal static SnapshotArchiveHeader ReadHeader(TarEntry? entry)
    {
        if (entry is null || entry.Name != HeaderEntry || entry.DataStream is null || entry.Length is <= 0 or > MaxHeaderSize)
        {
            throw new FormatException($"the first entry must be {HeaderEntry} of at most {MaxHeaderSize} bytes.");
        }

        byte[] json = new byte[entry.Length];
        entry.DataStream.ReadExactly(json);
        var header = JsonSerializer.Deserialize(json, RecordJson.Default.SnapshotArchiveHeader) ?? throw new FormatException("the header is empty.");
        if (header.Version == 1)
        {
            throw new FormatException("version 1 archives carry unverifiable layer trees and are no longer imported; export the snapshot again.");
        }

        if (header.Version != SnapshotArchiveHeader.CurrentVersion || header.Kind is not (SnapshotKinds.OverlayTree or SnapshotKinds.BlockStack))
        {
            throw new FormatException($"version {header.Version} of kind '{header.Kind}' is not supported.");
        }

        if (header.Kind == SnapshotKinds.BlockStack)
        {
            return ReadBlockHeader(header);
        }

        if (!Digest.TryParse(header.ManifestDigest, out _))
        {
            throw new FormatException("the header needs a manifest digest.");
        }

        return header with { References = header.References?.Where(r => r is not null).Take(64).ToArray() ?? [], Block = null };
    }

    /// <summary>The index, and for each stored block the first disk block reading as it (-1: none does).</summary>
    internal static (BlockIndex Index, long[] FirstBlock) ReferencedBlocks(byte[] indexBytes)
    {
        var index = BlockIndex.Read(indexBytes);
        int[] map = index.CreateBlockMap();
        long[] first = new long[index.StoredBlockCount];
        Array.Fill(first, -1L);
        for (long block = map.Length - 1; block >= 0; block--)
        {
            if (map[block] >= 0)
            {
                first[map[block]] = block;
            }
        }

        return (index, first);
    }

    internal static SnapshotArchiveHeader ReadBlockHeader(SnapshotArchiveHeader header)
    {
        if (!Digest.TryParse(header.ManifestDigest, out _) || header.Block is not { } block
            || !Digest.TryParse(block.IndexDigest, out _) || block.IndexSize is <= 0 or > BlockFormat.MaxIndexBodyBytes || block.DataSize < 0
            || block.DiffIds is null || block.DiffIds.Count > MaxArchiveLayers || block.DiffIds.Any(d => !Digest.TryParse(d, out _)))
        {
            throw new FormatException("a block-stack header needs a manifest digest, no layers, and a block entry with an index digest, index size and data size.");
        }

        return header with
        {
            References = header.References?.Where(r => r is not null).Take(64).ToArray() ?? [],
            Block = block with { BlockImage = block.BlockImage is { Length: <= 1024 } text ? text : null },
        };
    }

    internal static Task<TarEntry> NextEntryAsync(TarReader reader, string name, long length, CancellationToken cancellationToken)
        => NextEntryAsync(reader, name, length, length, cancellationToken);

    // The next entry must be regular file NAME, of exactly LENGTH bytes when given, else of 1 to MAXLENGTH bytes.
    internal static async Task<TarEntry> NextEntryAsync(TarReader reader, string name, long? length, long maxLength, CancellationToken cancellationToken)
    {
        TarEntry? entry;
        try
        {
            entry = await reader.GetNextEntryAsync(copyData: false, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is FormatException or EndOfStreamException)
        {
            throw new InvalidDataException($"The snapshot archive is malformed at {name}: {ex.Message}", ex);
        }

        if (entry is null || entry.Name != name || entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || entry.DataStream is null
            || (length is { } exact ? entry.Length != exact : entry.Length is < 1 || entry.Length > maxLength))
        {
            throw new InvalidDataException(length is { } size
                ? $"The snapshot archive does not hold {name} of {size} bytes where it should."
                : $"The snapshot archive does not hold {name} (at most {maxLength} bytes) where it should.");
        }

        return entry;
    }
}
