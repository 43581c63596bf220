namespace Accelerator.Abstractions.Tests.Content;

public sealed class CountingStreamTests
{
    private sealed class TrackingStream(byte[] data) : MemoryStream(data)
    {
        public bool Disposed { get; private set; }

        protected override void Dispose(bool disposing)
        {
            Disposed = true;
            base.Dispose(disposing);
        }
    }

    private sealed class CollectingStream(Stream inner) : CountingStream(inner)
    {
        public List<byte> Seen { get; } = [];

        protected override void OnRead(ReadOnlySpan<byte> data) => Seen.AddRange(data.ToArray());
    }

    [Fact]
    public async Task ReadAsync_ReportsRunningTotalAfterEachRead()
    {
        var reported = new List<long>();
        await using var stream = new CountingStream(new MemoryStream(new byte[10]), reported.Add);
        byte[] buffer = new byte[4];

        while (await stream.ReadAsync(buffer) > 0)
        {
        }

        Assert.Equal(new long[] { 4, 8, 10 }, reported);
        Assert.Equal(10, stream.BytesRead);
        Assert.Equal(10, stream.Position);
        Assert.Throws<NotSupportedException>(() => stream.Position = 0);
    }

    [Fact]
    public void Read_SubclassSeesExactlyTheBytesRead()
    {
        byte[] data = new byte[1000];
        new Random(2).NextBytes(data);
        using var stream = new CollectingStream(new MemoryStream(data));

        using var copy = new MemoryStream();
        stream.CopyTo(copy, 7);

        Assert.Equal(data, copy.ToArray());
        Assert.Equal(data, stream.Seen.ToArray());
        Assert.Equal(1000, stream.BytesRead);
    }

    [Theory]
    [InlineData(false, true)]
    [InlineData(true, false)]
    public async Task Dispose_DisposesInnerUnlessLeftOpen(bool leaveOpen, bool innerDisposed)
    {
        var inner = new TrackingStream([1, 2, 3]);
        var stream = new CountingStream(inner, leaveOpen: leaveOpen);

        await stream.DisposeAsync();
        stream.Dispose();

        Assert.Equal(innerDisposed, inner.Disposed);
    }

    [Fact]
    public void Length_FromInnerStream()
    {
        using var stream = new CountingStream(new MemoryStream(new byte[42]));

        Assert.Equal(42, stream.Length);
        Assert.False(stream.CanSeek);
        Assert.False(stream.CanWrite);
    }
}
