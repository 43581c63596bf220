using Accelerator.Chunks.Format;

namespace Accelerator.Chunks.Tests.Format;

public sealed class ChunkKeyTests
{
    [Fact]
    public void Compute_SameAsSha256Digest()
    {
        byte[] data = "chunk"u8.ToArray();
        Span<byte> raw = stackalloc byte[32];

        ChunkKey key = ChunkKey.Compute(data);
        key.CopyTo(raw);

        Assert.Equal(Digest.Compute(data).Encoded, Convert.ToHexStringLower(raw));
        Assert.Equal(key, ChunkKey.From(raw));
        Assert.NotEqual(key, ChunkKey.Compute("other"u8));
    }
}
