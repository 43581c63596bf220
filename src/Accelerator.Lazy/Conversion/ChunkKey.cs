using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Accelerator.Lazy.Conversion;

/// <summary>A chunk's sha256 as a value type, for dictionaries of chunks without formatting digests.</summary>
internal readonly record struct ChunkKey(UInt128 High, UInt128 Low)
{
    public static ChunkKey Compute(ReadOnlySpan<byte> data)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(data, hash);
        return From(hash);
    }

    public static ChunkKey From(ReadOnlySpan<byte> hash) =>
        new(BinaryPrimitives.ReadUInt128BigEndian(hash), BinaryPrimitives.ReadUInt128BigEndian(hash[16..]));

    public void CopyTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt128BigEndian(destination, High);
        BinaryPrimitives.WriteUInt128BigEndian(destination[16..], Low);
    }
}
