namespace Accelerator.Abstractions.Tests.Content;

public sealed class VerifyingStreamTests
{
    private static readonly byte[] Content = MakeContent(200_000);

    private static byte[] MakeContent(int size)
    {
        byte[] content = new byte[size];
        new Random(7).NextBytes(content);
        return content;
    }

    private static async Task<(long Read, Exception? Error)> DrainAsync(Stream stream, int bufferSize = 8192)
    {
        long read = 0;
        byte[] buffer = new byte[bufferSize];
        try
        {
            int n;
            while ((n = await stream.ReadAsync(buffer)) > 0)
            {
                read += n;
            }

            return (read, null);
        }
        catch (Exception ex)
        {
            return (read, ex);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ReadAsync_GoodContent_YieldsAllAndPasses(bool sizeKnown)
    {
        using var stream = new VerifyingStream(new MemoryStream(Content), Digest.Compute(Content), sizeKnown ? Content.Length : -1);
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        Assert.Equal(Content, copy.ToArray());
        Assert.Equal(Content.Length, stream.BytesRead);
    }

    [Fact]
    public void Read_GoodContentSynchronously_Passes()
    {
        using var stream = new VerifyingStream(new MemoryStream(Content), Digest.Compute(Content), Content.Length);
        using var copy = new MemoryStream();
        stream.CopyTo(copy, 1000);
        Assert.Equal(Content, copy.ToArray());
    }

    [Fact]
    public async Task ReadAsync_EmptyContent_Passes()
    {
        using var stream = new VerifyingStream(new MemoryStream(), Digest.Compute([]), 0);
        var (read, error) = await DrainAsync(stream);
        Assert.Equal(0, read);
        Assert.Null(error);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(100_000)]
    [InlineData(199_999)]
    public async Task ReadAsync_OneWrongByte_MismatchAtTheEnd(int position)
    {
        byte[] bad = (byte[])Content.Clone();
        bad[position] ^= 1;
        var expected = Digest.Compute(Content);
        using var stream = new VerifyingStream(new MemoryStream(bad), expected, Content.Length, "test source");

        var (read, error) = await DrainAsync(stream);

        var mismatch = Assert.IsType<DigestMismatchException>(error);
        Assert.Equal(expected, mismatch.Expected);
        Assert.Equal(Digest.Compute(bad).ToString(), mismatch.Actual);
        Assert.Contains("test source", mismatch.Message);
        Assert.Equal(Content.Length, read); // every byte is handed out; the failure comes from the read that hits the end
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ReadAsync_ShortContent_Mismatch(bool sizeKnown)
    {
        using var stream = new VerifyingStream(new MemoryStream(Content[..^1]), Digest.Compute(Content), sizeKnown ? Content.Length : -1);
        var (_, error) = await DrainAsync(stream);
        Assert.IsType<DigestMismatchException>(error);
    }

    [Theory]
    [InlineData(1, 8192)]
    [InlineData(1, 1)]
    [InlineData(50_000, 8192)]
    [InlineData(1, 1_000_000)]
    public async Task ReadAsync_OverlongContent_MismatchAndNeverMoreThanExpected(int extra, int bufferSize)
    {
        byte[] longer = [.. Content, .. new byte[extra]];
        using var stream = new VerifyingStream(new MemoryStream(longer), Digest.Compute(Content), Content.Length);

        var (read, error) = await DrainAsync(stream, bufferSize);

        Assert.IsType<DigestMismatchException>(error);
        Assert.True(read <= Content.Length, $"yielded {read} bytes, more than {Content.Length}");
    }

    [Fact]
    public async Task ReadAsync_OverlongContentWithoutSize_Mismatch()
    {
        byte[] longer = [.. Content, 0];
        using var stream = new VerifyingStream(new MemoryStream(longer), Digest.Compute(Content), -1);
        var (_, error) = await DrainAsync(stream);
        Assert.IsType<DigestMismatchException>(error);
    }

    [Fact]
    public async Task ReadAsync_Sha512_Verified()
    {
        var digest = Digest.Compute(Digest.Sha512, Content);
        using var good = new VerifyingStream(new MemoryStream(Content), digest, Content.Length);
        Assert.Null((await DrainAsync(good)).Error);
        using var bad = new VerifyingStream(new MemoryStream(Content[1..]), digest, -1);
        Assert.IsType<DigestMismatchException>((await DrainAsync(bad)).Error);
    }

    [Fact]
    public void Stream_IsReadOnlyAndForwardOnly()
    {
        using var stream = new VerifyingStream(new MemoryStream(Content), Digest.Compute(Content), Content.Length);
        Assert.True(stream.CanRead);
        Assert.False(stream.CanSeek);
        Assert.False(stream.CanWrite);
        Assert.Equal(Content.Length, stream.Length);
        Assert.Throws<NotSupportedException>(() => stream.Seek(0, SeekOrigin.Begin));
        Assert.Throws<NotSupportedException>(() => stream.Write([1], 0, 1));
        Assert.Throws<NotSupportedException>(() => stream.Position = 3);
    }

    [Fact]
    public void Dispose_LeaveOpen_InnerStaysUsable()
    {
        var inner = new MemoryStream(Content);
        new VerifyingStream(inner, Digest.Compute(Content), Content.Length, leaveOpen: true).Dispose();
        Assert.True(inner.CanRead);
        new VerifyingStream(inner, Digest.Compute(Content), Content.Length).Dispose();
        Assert.False(inner.CanRead);
    }
}
