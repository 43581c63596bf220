using Accelerator.Testing;

namespace Accelerator.Abstractions.Tests.Blobs;

public sealed class BlobSourceExtensionsTests
{
    private static readonly byte[] Content = Enumerable.Range(0, 100_000).Select(i => (byte)(i * 7)).ToArray();

    [Fact]
    public async Task ReadRangeAsync_InsideBlob_FillsBuffer()
    {
        var source = new InMemoryBlobSource();
        var descriptor = source.Add(Content);
        byte[] buffer = new byte[5000];

        int n = await source.ReadRangeAsync(new BlobAddress("", descriptor.Digest, descriptor.Size), 12_345, buffer);

        Assert.Equal(5000, n);
        Assert.Equal(Content.AsSpan(12_345, 5000).ToArray(), buffer);
    }

    [Fact]
    public async Task ReadRangeAsync_AcrossEnd_ReturnsFewer()
    {
        var source = new InMemoryBlobSource();
        var descriptor = source.Add(Content);
        byte[] buffer = new byte[5000];

        int n = await source.ReadRangeAsync(new BlobAddress("", descriptor.Digest), Content.Length - 10, buffer);

        Assert.Equal(10, n);
        Assert.Equal(Content[^10..], buffer[..10]);
    }

    [Fact]
    public async Task ReadRangeAsync_SourceReturningShortReads_LoopsUntilFull()
    {
        var source = new TricklingSource(Content);
        byte[] buffer = new byte[1000];
        int n = await source.ReadRangeAsync(new BlobAddress("", Digest.Compute(Content)), 10, buffer);
        Assert.Equal(1000, n);
        Assert.Equal(Content.AsSpan(10, 1000).ToArray(), buffer);
    }

    [Fact]
    public async Task ReadAllBytesAsync_UnderLimit_ReturnsVerifiedContent()
    {
        var source = new InMemoryBlobSource();
        var descriptor = source.Add(Content);
        Assert.Equal(Content, await source.ReadAllBytesAsync(new BlobAddress("", descriptor.Digest, descriptor.Size), Content.Length));
    }

    [Fact]
    public async Task ReadAllBytesAsync_KnownSizeOverLimit_ThrowsWithoutReading()
    {
        var source = new InMemoryBlobSource();
        var descriptor = source.Add(Content);
        await Assert.ThrowsAsync<ContentTooLargeException>(() => source.ReadAllBytesAsync(new BlobAddress("", descriptor.Digest, descriptor.Size), Content.Length - 1));
        Assert.Equal(0, source.WholeReads);
    }

    [Fact]
    public async Task ReadAllBytesAsync_UnknownSizeOverLimit_ThrowsWhileReading()
    {
        var source = new InMemoryBlobSource();
        var descriptor = source.Add(Content);
        await Assert.ThrowsAsync<ContentTooLargeException>(() => source.ReadAllBytesAsync(new BlobAddress("", descriptor.Digest), 1000));
    }

    [Fact]
    public async Task ReadAllBytesAsync_Corrupted_ThrowsDigestMismatch()
    {
        var source = new InMemoryBlobSource();
        var digest = Digest.Compute(Content);
        source.AddUnverified(digest, Content[1..]);
        await Assert.ThrowsAsync<DigestMismatchException>(() => source.ReadAllBytesAsync(new BlobAddress("", digest), 1 << 20));
    }

    [Fact]
    public async Task ReadAllBytesAsync_Missing_ThrowsBlobNotFound()
        => await Assert.ThrowsAsync<BlobNotFoundException>(() => new InMemoryBlobSource().ReadAllBytesAsync(new BlobAddress("", Digest.Compute(Content)), 10));

    [Fact]
    public async Task Extensions_NullSource_ThrowArgumentNull()
    {
        await Assert.ThrowsAsync<ArgumentNullException>(async () => await BlobSourceExtensions.ReadRangeAsync(null!, default, 0, new byte[1]));
        await Assert.ThrowsAsync<ArgumentNullException>(() => BlobSourceExtensions.ReadAllBytesAsync(null!, default, 1));
    }

    [Fact]
    public void BlobAddress_ForDescriptorAndToString()
    {
        var descriptor = Descriptor.FromContent("m", Content);
        var address = BlobAddress.For("library/x", descriptor);
        Assert.Equal(descriptor.Size, address.Size);
        Assert.True(address.HasSize);
        Assert.Equal($"library/x@{descriptor.Digest}", address.ToString());
        Assert.Equal(descriptor.Digest.ToString(), (address with { Repository = "" }).ToString());
        Assert.False(new BlobAddress("", descriptor.Digest).HasSize);
    }

    /// <summary>A real source whose range streams hand out at most 7 bytes per read, as a slow network does.</summary>
    private sealed class TricklingSource(byte[] content) : IBlobSource
    {
        public ValueTask<long> GetSizeAsync(BlobAddress blob, CancellationToken cancellationToken = default) => ValueTask.FromResult((long)content.Length);

        public Task<Stream> OpenReadAsync(BlobAddress blob, CancellationToken cancellationToken = default)
            => Task.FromResult<Stream>(new VerifyingStream(new TrickleStream(new MemoryStream(content)), blob.Digest, blob.Size));

        public Task<Stream> OpenRangeAsync(BlobAddress blob, long offset, long length, CancellationToken cancellationToken = default)
            => Task.FromResult<Stream>(new TrickleStream(new MemoryStream(content, (int)offset, (int)Math.Min(length, content.Length - offset))));
    }

    private sealed class TrickleStream(Stream inner) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, Math.Min(count, 7));
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
