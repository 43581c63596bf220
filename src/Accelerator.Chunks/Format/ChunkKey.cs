using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Accelerator.Chunks.Format;

/// <summary>A chunk's sha256 as a value type, for dictionaries of chunks without formatting digests.</summary>
/// <param name="High">The first 16 bytes of the hash, big-endian.</param>
/// <param name="Low">The last 16 bytes of the hash, big-endian.</param>
public readonly record struct ChunkKey(UInt128 High, UInt128 Low)
{
    /// <summary>The key of <paramref name="data"/>: its sha256.</summary>
    public static ChunkKey Compute(ReadOnlySpan<byte> data)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(data, hash);
        return From(hash);
    }

    /// <summary>The key of a raw 32-byte sha256 <paramref name="hash"/>.</summary>
    public static ChunkKey From(ReadOnlySpan<byte> hash) =>
        new(BinaryPrimitives.ReadUInt128BigEndian(hash), BinaryPrimitives.ReadUInt128BigEndian(hash[16..]));

    /// <summary>Writes the raw 32-byte sha256 into <paramref name="destination"/>.</summary>
    public void CopyTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt128BigEndian(destination, High);
        BinaryPrimitives.WriteUInt128BigEndian(destination[16..], Low);
    }
}
