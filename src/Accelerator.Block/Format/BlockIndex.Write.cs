using System.Buffers;
using System.Buffers.Binary;
using MessagePack;
using ZstdSharp;

namespace Accelerator.Block.Format;

public sealed partial class BlockIndex
{
    /// <summary>The zstd level of the index body. Fixed: the same index must give the same bytes.</summary>
    private const int CompressionLevel = 9;

    /// <summary>Encodes the index as its blob: magic, version, then one zstd frame of the MessagePack body.</summary>
    public byte[] ToBytes()
    {
        byte[] body = EncodeBody();
        using var compressor = new Compressor(CompressionLevel);
        compressor.SetParameter(ZstdSharp.Unsafe.ZSTD_cParameter.ZSTD_c_contentSizeFlag, 1);
        byte[] compressed = compressor.Wrap(body).ToArray();
        var blobBytes = new byte[HeaderSize + compressed.Length];
        Magic.CopyTo(blobBytes);
        BinaryPrimitives.WriteUInt32LittleEndian(blobBytes.AsSpan(Magic.Length), BlockFormat.Version);
        compressed.CopyTo(blobBytes, HeaderSize);
        return blobBytes;
    }

    /// <summary>The MessagePack body, uncompressed.</summary>
    internal byte[] EncodeBody()
    {
        var body = new ArrayBufferWriter<byte>(4096 + (StoredBlockCount * 48));
        var writer = new MessagePackWriter(body);
        writer.WriteArrayHeader(SectionCount);

        // [0] geometry: disk size, block size
        writer.WriteArrayHeader(2);
        writer.Write(DiskSize);
        writer.Write(BlockSize);

        // [1] blobs: digests (raw sha256, concatenated), sizes
        writer.WriteArrayHeader(2);
        var blobDigests = new byte[_blobs.Length * BlockFormat.DigestBytes];
        for (int i = 0; i < _blobs.Length; i++)
        {
            Convert.FromHexString(_blobs[i].Digest.Encoded, blobDigests.AsSpan(i * BlockFormat.DigestBytes), out _, out _);
        }

        writer.Write(blobDigests);
        writer.WriteArrayHeader(_blobs.Length);
        foreach (BlockBlob blob in _blobs)
        {
            writer.Write(blob.Size);
        }

        // [2] stored blocks: blob, offset gap (from the end of the previous block of the same blob run), stored length,
        // uncompressed length, digests
        writer.WriteArrayHeader(5);
        WriteColumn(ref writer, _blockBlob);
        writer.WriteArrayHeader(_blockBlob.Length);
        long end = 0;
        for (int i = 0; i < _blockBlob.Length; i++)
        {
            if (i == 0 || _blockBlob[i] != _blockBlob[i - 1])
            {
                end = 0;
            }

            writer.Write(_blockOffset[i] - end);
            end = _blockOffset[i] + _blockStored[i];
        }

        WriteColumn(ref writer, _blockStored);
        WriteColumn(ref writer, _blockLength);
        writer.Write(_blockDigests);

        // [3] layers, base first: each [first-block gaps, block counts, stored block + 1 (0 = zeros)]
        writer.WriteArrayHeader(_layers.Length);
        foreach (BlockExtent[] layer in _layers)
        {
            writer.WriteArrayHeader(3);
            writer.WriteArrayHeader(layer.Length);
            long previous = 0;
            foreach (BlockExtent extent in layer)
            {
                writer.Write(extent.FirstBlock - previous);
                previous = extent.EndBlock;
            }

            writer.WriteArrayHeader(layer.Length);
            foreach (BlockExtent extent in layer)
            {
                writer.Write(extent.BlockCount);
            }

            writer.WriteArrayHeader(layer.Length);
            foreach (BlockExtent extent in layer)
            {
                writer.Write(extent.StoredBlock + 1);
            }
        }

        // [4] prefetch trace: block addresses in order
        writer.WriteArrayHeader(_prefetch.Length);
        foreach (long block in _prefetch)
        {
            writer.Write(block);
        }

        writer.Flush();
        return body.WrittenSpan.ToArray();
    }

    private static void WriteColumn(ref MessagePackWriter writer, int[] values)
    {
        writer.WriteArrayHeader(values.Length);
        foreach (int v in values)
        {
            writer.Write(v);
        }
    }
}
