using System.Buffers.Binary;
using System.Globalization;

namespace Accelerator.Seekable.Stargz;

/// <summary>
/// The eStargz footer: an empty gzip member whose extra field holds the TOC offset (estargz/gzip.go,
/// <c>gzipFooterBytes</c>; docs/stargz-estargz.md "Footer").
/// </summary>
internal static class EstargzFooter
{
    /// <summary>The footer's size: 10 bytes of gzip header, 2 of XLEN, 26 of extra field, 5 of an empty stored block, 8 of trailer.</summary>
    public const int Size = 51;

    // The extra field: subfield id 'S','G', length 22, then "%016x" of the TOC offset and "STARGZ" (RFC 1952 2.3.1.1).
    private const int ExtraLength = 26;
    private const int SubfieldLength = 22;
    private static ReadOnlySpan<byte> Suffix => "STARGZ"u8;

    /// <summary>Reads the TOC offset from the last <see cref="Size"/> bytes of a blob of <paramref name="blobSize"/> bytes.</summary>
    /// <exception cref="InvalidDataException">Not an eStargz footer, or the offset lies outside the blob.</exception>
    public static long ReadTocOffset(ReadOnlySpan<byte> footer, long blobSize)
    {
        if (footer.Length != Size)
        {
            throw new InvalidDataException($"An eStargz footer is {Size} bytes, not {footer.Length}.");
        }

        // gzip magic, deflate, FLG with FEXTRA set (and nothing a footer never has: FNAME, FCOMMENT, FHCRC).
        if (footer[0] != 0x1f || footer[1] != 0x8b || footer[2] != 8 || (footer[3] & 0x04) == 0 || (footer[3] & 0x1a) != 0)
        {
            throw new InvalidDataException("The blob does not end with an eStargz footer (no gzip header with an extra field).");
        }

        if (BinaryPrimitives.ReadUInt16LittleEndian(footer[10..]) != ExtraLength || footer[12] != 'S' || footer[13] != 'G'
            || BinaryPrimitives.ReadUInt16LittleEndian(footer[14..]) != SubfieldLength || !footer.Slice(32, Suffix.Length).SequenceEqual(Suffix))
        {
            throw new InvalidDataException("The blob's footer has no eStargz TOC offset field ('SG' … 'STARGZ').");
        }

        Span<char> hex = stackalloc char[16];
        for (int i = 0; i < hex.Length; i++)
        {
            hex[i] = (char)footer[16 + i];
        }

        if (!long.TryParse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out long offset) || offset < 0 || offset > blobSize - Size - 1)
        {
            throw new InvalidDataException($"The eStargz footer's TOC offset '{hex}' lies outside the blob ({blobSize} bytes).");
        }

        return offset;
    }
}
