namespace Accelerator.Seekable.Gzip;

/// <summary>
/// Where decoding of a gzip layer can start (zran style): at a gzip member's first byte, or at a deflate block
/// boundary given the bit position and the 32 KiB of output before it.
/// </summary>
/// <param name="ByteOffset">
/// A member start: the offset of its first byte (the gzip header). A block boundary: the number of blob bytes consumed
/// up to it; when <paramref name="Bits"/> is not 0 the boundary lies inside byte <c>ByteOffset - 1</c>, whose top
/// <paramref name="Bits"/> bits belong to the next block.
/// </param>
/// <param name="Bits">0–7: how many bits of byte <c>ByteOffset - 1</c> still belong to the stream after the boundary.</param>
/// <param name="DataOffset">The offset in the uncompressed stream the checkpoint decodes from.</param>
/// <param name="Window">
/// A block boundary: the window (up to 32 KiB of preceding output of the same member), zstd-compressed; a member
/// start: <see langword="null"/>.
/// </param>
internal sealed record GzipCheckpoint(long ByteOffset, int Bits, long DataOffset, byte[]? Window)
{
    /// <summary>Whether this is the start of a gzip member (decoding begins with its header).</summary>
    public bool IsMemberStart => Window is null;

    /// <summary>The first blob byte a decoder needs: the partial byte when the boundary is inside one.</summary>
    public long FirstByte => Bits == 0 ? ByteOffset : ByteOffset - 1;
}
