using System.Security.Cryptography;

namespace Accelerator.Abstractions.Tests.Content;

public sealed class HashingWriteStreamTests
{
    [Fact]
    public async Task Write_MixedCalls_ForwardsHashesAndCountsEveryByte()
    {
        byte[] content = RandomNumberGenerator.GetBytes(10_000);
        using var inner = new MemoryStream();
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var stream = new HashingWriteStream(inner, hash);

        stream.Write(content, 0, 1000);
        stream.Write(content.AsSpan(1000, 2000));
        await stream.WriteAsync(content.AsMemory(3000, 5000));
        await stream.WriteAsync(content, 8000, 2000);
        await stream.FlushAsync();

        Assert.Equal(content, inner.ToArray());
        Assert.Equal(content.Length, stream.Written);
        Assert.Equal(content.Length, stream.Length);
        Assert.Equal(Digest.Compute(content), Digest.FromHash(Digest.Sha256, hash.GetHashAndReset()));
    }

    [Fact]
    public void Stream_IsWriteOnly_AndLeavesInnerOpen()
    {
        using var inner = new MemoryStream();
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var stream = new HashingWriteStream(inner, hash);

        Assert.False(stream.CanRead);
        Assert.False(stream.CanSeek);
        Assert.Throws<NotSupportedException>(() => stream.Read(new byte[1], 0, 1));
        Assert.Throws<NotSupportedException>(() => stream.Position = 1);
        stream.Dispose();
        Assert.True(inner.CanWrite);
    }
}
