namespace Accelerator.Oci.Layers;

public sealed partial class LayerTarReader
{
    // GNU tar manual, "Storing Sparse Files" (formats 0.0, 0.1, 1.0) and "GNU tar format" (old 'S' entries).
    private async ValueTask<(List<TarSparseSegment>? Map, long Size, string Path)> ReadSparseMapAsync(
        TarHeader header, PendingExtensions pending, string path, long storedSize, CancellationToken cancellationToken)
    {
        List<TarSparseSegment>? map = null;
        long realSize = storedSize;
        Dictionary<string, byte[]> records = pending.Records;

        if (header.GnuSparse is { } gnu)
        {
            map = gnu;
            bool more = header.GnuSparseExtended;
            while (more)
            {
                if (map.Count > MaxSparseSegments)
                {
                    throw new InvalidDataException($"Sparse map of '{path}' has more than {MaxSparseSegments} segments.");
                }

                // Extension blocks sit between the header and the data and are not counted in the size field.
                if (await ReadBlockAsync(_block, cancellationToken).ConfigureAwait(false) < TarHeader.BlockSize)
                {
                    throw new InvalidDataException($"The tar archive ends inside the sparse map of '{path}'.");
                }

                more = TarHeader.ReadSparseExtension(_block, map);
            }

            realSize = header.GnuRealSize;
        }
        else if (records.TryGetValue("GNU.sparse.major", out byte[]? major))
        {
            records.TryGetValue("GNU.sparse.minor", out byte[]? minor);
            if (!major.AsSpan().SequenceEqual("1"u8) || (minor is not null && !minor.AsSpan().SequenceEqual("0"u8)))
            {
                throw new InvalidDataException($"Tar entry '{path}' uses an unsupported pax sparse format.");
            }

            realSize = RequiredSparseSize(records, path);
            map = await ReadSparse10MapAsync(path, cancellationToken).ConfigureAwait(false);
        }
        else if (records.TryGetValue("GNU.sparse.map", out byte[]? list))
        {
            realSize = RequiredSparseSize(records, path);
            map = ParseSparse01Map(list, path);
        }
        else if (pending.Sparse00.Count > 0 || records.ContainsKey("GNU.sparse.numblocks"))
        {
            realSize = RequiredSparseSize(records, path);
            List<long> numbers = pending.Sparse00;
            if (numbers.Count % 2 != 0)
            {
                throw new InvalidDataException($"Sparse map of '{path}' has an offset without a length.");
            }

            map = new List<TarSparseSegment>(numbers.Count / 2);
            for (int i = 0; i < numbers.Count; i += 2)
            {
                map.Add(new TarSparseSegment(numbers[i], numbers[i + 1]));
            }
        }

        if (map is null)
        {
            return (null, storedSize, path);
        }

        if (records.TryGetValue("GNU.sparse.numblocks", out byte[]? numBlocks)
            && PaxRecords.ParseInteger(numBlocks, "GNU.sparse.numblocks") != map.Count)
        {
            throw new InvalidDataException($"Sparse map of '{path}' does not have the number of segments it declares.");
        }

        if (records.TryGetValue("GNU.sparse.name", out byte[]? realName) && realName.Length > 0)
        {
            path = TarHeader.DecodeName(realName, "path");
        }

        ValidateSparseMap(map, realSize, _remaining, path);
        return (map, realSize, path);
    }

    private static long RequiredSparseSize(Dictionary<string, byte[]> records, string path)
    {
        byte[]? value = records.GetValueOrDefault("GNU.sparse.realsize") ?? records.GetValueOrDefault("GNU.sparse.size");
        return value is null
            ? throw new InvalidDataException($"Sparse tar entry '{path}' does not state its real size.")
            : PaxRecords.ParseInteger(value, "GNU.sparse.realsize");
    }

    private static List<TarSparseSegment> ParseSparse01Map(ReadOnlySpan<byte> list, string path)
    {
        var numbers = new List<long>();
        foreach (Range range in list.Split((byte)','))
        {
            if (numbers.Count >= 2 * MaxSparseSegments)
            {
                throw new InvalidDataException($"Sparse map of '{path}' has more than {MaxSparseSegments} segments.");
            }

            numbers.Add(PaxRecords.ParseInteger(list[range], "GNU.sparse.map"));
        }

        if (numbers.Count % 2 != 0)
        {
            throw new InvalidDataException($"Sparse map of '{path}' has an offset without a length.");
        }

        var map = new List<TarSparseSegment>(numbers.Count / 2);
        for (int i = 0; i < numbers.Count; i += 2)
        {
            map.Add(new TarSparseSegment(numbers[i], numbers[i + 1]));
        }

        return map;
    }

    // Format 1.0 keeps the map at the start of the file data: decimal numbers, each ended by '\n' (the count, then
    // offset and length per segment), padded with NULs to a block boundary. The size field counts those blocks.
    private async ValueTask<List<TarSparseSegment>> ReadSparse10MapAsync(string path, CancellationToken cancellationToken)
    {
        var numbers = new List<long>();
        long expected = -1;
        long current = 0;
        int digits = 0;
        while (true)
        {
            if (_remaining < TarHeader.BlockSize)
            {
                throw new InvalidDataException($"Sparse map of '{path}' runs past the entry's data.");
            }

            if (await ReadBlockAsync(_block, cancellationToken).ConfigureAwait(false) < TarHeader.BlockSize)
            {
                throw new InvalidDataException($"The tar archive ends inside the sparse map of '{path}'.");
            }

            _remaining -= TarHeader.BlockSize;
            foreach (byte b in _block)
            {
                if (b is >= (byte)'0' and <= (byte)'9')
                {
                    if (++digits > 18)
                    {
                        throw new InvalidDataException($"Sparse map of '{path}' has a number that is too long.");
                    }

                    current = (current * 10) + (b - '0');
                    continue;
                }

                if (b != (byte)'\n' || digits == 0)
                {
                    throw new InvalidDataException($"Sparse map of '{path}' is malformed.");
                }

                numbers.Add(current);
                current = 0;
                digits = 0;
                if (expected < 0)
                {
                    if (numbers[0] > MaxSparseSegments)
                    {
                        throw new InvalidDataException($"Sparse map of '{path}' has more than {MaxSparseSegments} segments.");
                    }

                    expected = 1 + (2 * numbers[0]);
                }

                if (numbers.Count == expected)
                {
                    var map = new List<TarSparseSegment>((int)numbers[0]);
                    for (int i = 1; i < numbers.Count; i += 2)
                    {
                        map.Add(new TarSparseSegment(numbers[i], numbers[i + 1]));
                    }

                    return map;
                }
            }
        }
    }

    private static void ValidateSparseMap(List<TarSparseSegment> map, long realSize, long storedSize, string path)
    {
        if (map.Count > MaxSparseSegments)
        {
            throw new InvalidDataException($"Sparse map of '{path}' has more than {MaxSparseSegments} segments.");
        }

        long end = 0;
        long total = 0;
        foreach (TarSparseSegment segment in map)
        {
            if (segment.Offset < end || segment.Length < 0 || segment.Length > realSize - segment.Offset)
            {
                throw new InvalidDataException($"Sparse map of '{path}' has overlapping, unordered or out-of-file segments.");
            }

            end = segment.Offset + segment.Length;
            total += segment.Length;
        }

        if (total != storedSize)
        {
            throw new InvalidDataException($"Sparse map of '{path}' covers {total} bytes but the archive stores {storedSize}.");
        }
    }
}
