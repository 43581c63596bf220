namespace Accelerator.Abstractions.Tests.Content;

public sealed class ReadOnlyStreamTests
{
    /// <summary>The smallest subclass: only the span and memory reads, over a byte array.</summary>
    private sealed class ArrayStream(byte[] data) : ReadOnlyStream
    {
        private int _position;

        public int SpanReads { get; private set; }

        public int MemoryReads { get; private set; }

        public override int Read(Span<byte> buffer)
        {
            SpanReads++;
            int n = Math.Min(buffer.Length, data.Length - _position);
            data.AsSpan(_position, n).CopyTo(buffer);
            _position += n;
            return n;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            MemoryReads++;
            SpanReads--;
            return ValueTask.FromResult(Read(buffer.Span));
        }
    }

    [Fact]
    public void Capabilities_ReadOnlyForwardOnly()
    {
        using var stream = new ArrayStream([1, 2, 3]);

        Assert.True(stream.CanRead);
        Assert.False(stream.CanSeek);
        Assert.False(stream.CanWrite);
        Assert.Throws<NotSupportedException>(() => stream.Length);
        Assert.Throws<NotSupportedException>(() => stream.Position);
        Assert.Throws<NotSupportedException>(() => stream.Position = 0);
        Assert.Throws<NotSupportedException>(() => stream.Seek(0, SeekOrigin.Begin));
        Assert.Throws<NotSupportedException>(() => stream.SetLength(1));
        Assert.Throws<NotSupportedException>(() => stream.Write([1], 0, 1));
        Assert.Throws<NotSupportedException>(() => stream.WriteByte(1));
        stream.Flush();
    }

    [Fact]
    public void Read_ArrayRange_RoutedToSpanRead()
    {
        using var stream = new ArrayStream([1, 2, 3, 4, 5]);
        byte[] buffer = new byte[10];

        int n = stream.Read(buffer, 2, 3);

        Assert.Equal(3, n);
        Assert.Equal(new byte[] { 0, 0, 1, 2, 3, 0 }, buffer[..6]);
        Assert.Equal(1, stream.SpanReads);
        Assert.Equal(4, stream.ReadByte());
    }

    [Fact]
    public async Task ReadAsync_ArrayRange_RoutedToMemoryRead()
    {
        using var stream = new ArrayStream([1, 2, 3, 4, 5]);
        byte[] buffer = new byte[4];

        Assert.Equal(2, await stream.ReadAsync(buffer, 1, 2, CancellationToken.None));
        Assert.Equal(new byte[] { 0, 1, 2, 0 }, buffer);
        Assert.Equal(1, stream.MemoryReads);
        Assert.Equal(0, stream.SpanReads);
    }

    [Fact]
    public async Task CopyToAsync_WholeContent()
    {
        byte[] data = new byte[100_000];
        new Random(1).NextBytes(data);
        using var stream = new ArrayStream(data);
        using var copy = new MemoryStream();

        await stream.CopyToAsync(copy);

        Assert.Equal(data, copy.ToArray());
    }
}
