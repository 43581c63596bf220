namespace Accelerator.Oci.Layers;

/// <summary>One data segment of a sparse file: <paramref name="Length"/> bytes at <paramref name="Offset"/> of the
/// file hold data; everything not covered by a segment is a hole (reads as zeros).</summary>
/// <param name="Offset">Offset of the segment in the file.</param>
/// <param name="Length">Number of data bytes.</param>
public readonly record struct TarSparseSegment(long Offset, long Length);
