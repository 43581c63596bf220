using System.Buffers;
using System.Text;

namespace Accelerator.Oci.Layers;

internal sealed partial class TarHeader
{
    // Field offsets and lengths of the ustar header block (POSIX.1-2017, pax, "ustar Interchange Format").
    private const int NameOffset = 0, NameLength = 100;
    private const int ModeOffset = 100, ModeLength = 8;
    private const int UidOffset = 108, UidLength = 8;
    private const int GidOffset = 116, GidLength = 8;
    private const int SizeOffset = 124, SizeLength = 12;
    private const int MtimeOffset = 136, MtimeLength = 12;
    private const int ChecksumOffset = 148, ChecksumLength = 8;
    private const int TypeFlagOffset = 156;
    private const int LinkNameOffset = 157, LinkNameLength = 100;
    private const int MagicOffset = 257;
    private const int UserNameOffset = 265, UserNameLength = 32;
    private const int GroupNameOffset = 297, GroupNameLength = 32;
    private const int DevMajorOffset = 329, DevMajorLength = 8;
    private const int DevMinorOffset = 337, DevMinorLength = 8;
    private const int PrefixOffset = 345, PrefixLength = 155;

    // GNU layout (GNU tar manual, "GNU tar format"): struct sparse[4] at 386, isextended at 482, realsize at 483.
    private const int GnuSparseOffset = 386, GnuSparseEntries = 4;
    private const int GnuIsExtendedOffset = 482;
    private const int GnuRealSizeOffset = 483, GnuRealSizeLength = 12;

    // A GNU sparse extension block holds 21 (offset, numbytes) pairs then isextended at byte 504.
    private const int GnuExtensionEntries = 21, GnuExtensionIsExtendedOffset = 504;
    private const int SparseFieldLength = 12;

    private static ReadOnlySpan<byte> UstarMagic => "ustar\0"u8;

    private static ReadOnlySpan<byte> GnuMagic => "ustar  \0"u8;

    /// <summary>Whether every byte of the block is zero (an end-of-archive marker).</summary>
    public static bool IsZeroBlock(ReadOnlySpan<byte> block) => !block.ContainsAnyExcept((byte)0);

    /// <summary>Decodes a header block, checking its checksum and every numeric field.</summary>
    /// <exception cref="InvalidDataException">The block is not a valid tar header.</exception>
    public static TarHeader Parse(ReadOnlySpan<byte> block)
    {
        if (block.Length != BlockSize)
        {
            throw new InvalidDataException($"A tar header block must be {BlockSize} bytes, got {block.Length}.");
        }

        VerifyChecksum(block);

        TarHeaderFormat format = TarHeaderFormat.V7;
        if (block.Slice(MagicOffset, 8).SequenceEqual(GnuMagic))
        {
            format = TarHeaderFormat.Gnu;
        }
        else if (block.Slice(MagicOffset, 6).SequenceEqual(UstarMagic))
        {
            format = TarHeaderFormat.Ustar;
        }

        byte[] name = CString(block.Slice(NameOffset, NameLength)).ToArray();
        if (format == TarHeaderFormat.Ustar)
        {
            ReadOnlySpan<byte> prefix = CString(block.Slice(PrefixOffset, PrefixLength));
            if (!prefix.IsEmpty)
            {
                name = [.. prefix, (byte)'/', .. name];
            }
        }

        byte typeFlag = block[TypeFlagOffset];
        bool hasOwnerNames = format != TarHeaderFormat.V7;
        List<TarSparseSegment>? sparse = null;
        bool extended = false;
        long realSize = 0;
        if (format == TarHeaderFormat.Gnu && typeFlag == (byte)'S')
        {
            sparse = new List<TarSparseSegment>(GnuSparseEntries);
            ReadSparseEntries(block.Slice(GnuSparseOffset, GnuSparseEntries * 2 * SparseFieldLength), sparse);
            extended = block[GnuIsExtendedOffset] != 0;
            realSize = ParseNumeric(block.Slice(GnuRealSizeOffset, GnuRealSizeLength), "realsize");
        }

        return new TarHeader
        {
            Format = format,
            Name = name,
            Mode = ParseNumeric(block.Slice(ModeOffset, ModeLength), "mode"),
            Uid = ParseNumeric(block.Slice(UidOffset, UidLength), "uid"),
            Gid = ParseNumeric(block.Slice(GidOffset, GidLength), "gid"),
            Size = ParseNumeric(block.Slice(SizeOffset, SizeLength), "size"),
            ModificationTime = ParseNumeric(block.Slice(MtimeOffset, MtimeLength), "mtime", allowNegative: true),
            TypeFlag = typeFlag,
            LinkName = CString(block.Slice(LinkNameOffset, LinkNameLength)).ToArray(),
            UserName = hasOwnerNames ? CString(block.Slice(UserNameOffset, UserNameLength)).ToArray() : [],
            GroupName = hasOwnerNames ? CString(block.Slice(GroupNameOffset, GroupNameLength)).ToArray() : [],
            DeviceMajor = hasOwnerNames ? ParseNumeric(block.Slice(DevMajorOffset, DevMajorLength), "devmajor") : 0,
            DeviceMinor = hasOwnerNames ? ParseNumeric(block.Slice(DevMinorOffset, DevMinorLength), "devminor") : 0,
            GnuSparse = sparse,
            GnuSparseExtended = extended,
            GnuRealSize = realSize,
        };
    }

    /// <summary>Reads one GNU sparse extension block into <paramref name="segments"/>.</summary>
    /// <returns>Whether another extension block follows.</returns>
    public static bool ReadSparseExtension(ReadOnlySpan<byte> block, List<TarSparseSegment> segments)
    {
        ReadSparseEntries(block[..(GnuExtensionEntries * 2 * SparseFieldLength)], segments);
        return block[GnuExtensionIsExtendedOffset] != 0;
    }

    private static void ReadSparseEntries(ReadOnlySpan<byte> entries, List<TarSparseSegment> segments)
    {
        for (int i = 0; i + (2 * SparseFieldLength) <= entries.Length; i += 2 * SparseFieldLength)
        {
            ReadOnlySpan<byte> offsetField = entries.Slice(i, SparseFieldLength);
            ReadOnlySpan<byte> lengthField = entries.Slice(i + SparseFieldLength, SparseFieldLength);

            // An entry whose offset field starts with NUL ends the list.
            if (offsetField[0] == 0)
            {
                break;
            }

            segments.Add(new TarSparseSegment(
                ParseNumeric(offsetField, "sparse offset"),
                ParseNumeric(lengthField, "sparse numbytes")));
        }
    }

    private static void VerifyChecksum(ReadOnlySpan<byte> block)
    {
        long expected = ParseNumeric(block.Slice(ChecksumOffset, ChecksumLength), "checksum");

        // The checksum is the sum of all header bytes with the checksum field taken as eight spaces. Some old
        // writers summed signed chars, so both sums are accepted.
        long unsignedSum = 8 * ' ';
        long signedSum = 8 * ' ';
        for (int i = 0; i < block.Length; i++)
        {
            if (i is >= ChecksumOffset and < ChecksumOffset + ChecksumLength)
            {
                continue;
            }

            unsignedSum += block[i];
            signedSum += (sbyte)block[i];
        }

        if (expected != unsignedSum && expected != signedSum)
        {
            throw new InvalidDataException($"Tar header checksum mismatch: the header says {expected}, the block sums to {unsignedSum}.");
        }
    }

    /// <summary>The bytes of a NUL-terminated field, up to its first NUL.</summary>
    public static ReadOnlySpan<byte> CString(ReadOnlySpan<byte> field)
    {
        int nul = field.IndexOf((byte)0);
        return nul < 0 ? field : field[..nul];
    }

    /// <summary>
    /// Decodes a numeric field: octal digits (leading spaces or NULs, then digits, then a space or NUL), or GNU
    /// base-256 (first byte 0x80 for positive, 0xFF for negative two's-complement, big-endian remainder).
    /// </summary>
    public static long ParseNumeric(ReadOnlySpan<byte> field, string fieldName, bool allowNegative = false)
    {
        if (field.IsEmpty)
        {
            return 0;
        }

        if ((field[0] & 0x80) != 0)
        {
            return ParseBase256(field, fieldName, allowNegative);
        }

        int i = 0;
        while (i < field.Length && (field[i] == (byte)' ' || field[i] == 0))
        {
            i++;
        }

        long value = 0;
        int digits = 0;
        for (; i < field.Length; i++)
        {
            byte b = field[i];
            if (b is >= (byte)'0' and <= (byte)'7')
            {
                if (value > (long.MaxValue >> 3))
                {
                    throw new InvalidDataException($"Tar header field '{fieldName}' overflows.");
                }

                value = (value << 3) | (long)(b - '0');
                digits++;
                continue;
            }

            if (b is (byte)' ' or 0)
            {
                // Only spaces and NULs may follow the digits.
                if (field[i..].ContainsAnyExcept((byte)' ', (byte)0))
                {
                    throw new InvalidDataException($"Tar header field '{fieldName}' is not a valid octal number.");
                }

                break;
            }

            throw new InvalidDataException($"Tar header field '{fieldName}' is not a valid octal number.");
        }

        return value;
    }

    private static long ParseBase256(ReadOnlySpan<byte> field, string fieldName, bool allowNegative)
    {
        bool negative = field[0] == 0xFF;
        if (!negative && field[0] != 0x80)
        {
            throw new InvalidDataException($"Tar header field '{fieldName}' has an unknown base-256 marker 0x{field[0]:X2}.");
        }

        if (negative && !allowNegative)
        {
            throw new InvalidDataException($"Tar header field '{fieldName}' is negative.");
        }

        // Bytes beyond the low 8 must be pure sign extension to fit in a long.
        ReadOnlySpan<byte> rest = field[1..];
        byte fill = negative ? (byte)0xFF : (byte)0;
        int significant = Math.Min(rest.Length, 8);
        if (rest[..^significant].ContainsAnyExcept(fill))
        {
            throw new InvalidDataException($"Tar header field '{fieldName}' overflows.");
        }

        ulong raw = negative ? ulong.MaxValue : 0;
        foreach (byte b in rest[^significant..])
        {
            raw = (raw << 8) | b;
        }

        long value = unchecked((long)raw);
        if (!negative && value < 0)
        {
            throw new InvalidDataException($"Tar header field '{fieldName}' overflows.");
        }

        return value;
    }

    /// <summary>Decodes name bytes as UTF-8 (pax names are UTF-8; ustar names are taken as UTF-8 too).</summary>
    public static string DecodeName(ReadOnlySpan<byte> bytes, string what)
    {
        if (bytes.Contains((byte)0))
        {
            throw new InvalidDataException($"Tar {what} contains a NUL byte.");
        }

        return Encoding.UTF8.GetString(bytes);
    }
}
