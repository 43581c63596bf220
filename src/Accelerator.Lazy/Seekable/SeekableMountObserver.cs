using Accelerator.Lazy.Statistics;
using Accelerator.Lazy.Tracing;
using Accelerator.Seekable;
using Accelerator.Seekable.Reading;
using Microsoft.Extensions.Logging;

namespace Accelerator.Lazy.Seekable;

/// <summary>
/// What a seekable mount's reader reports: feeds the mount's <see cref="LazyMountStatistics"/> (bytes read, ranged
/// requests, units fetched and found cached, units that failed verification, per layer too) and the
/// <c>--record-trace</c> recorder. Bytes fetched are counted by the blob sources themselves (<see cref="LayerBlobSource"/>).
/// </summary>
internal sealed partial class SeekableMountObserver(LazyMountStatistics statistics, ReadTraceRecorder? trace, ILogger logger) : ISeekableReadObserver
{
    public void Read(ulong inode, long offset, int bytes)
    {
        statistics.Mount.AddRead(bytes);
        trace?.Record(inode);
    }

    public void Fetched(string source, long compressedBytes, int units)
    {
        statistics.AddRequest(compressedBytes);
        statistics.Mount.AddChunks(units);
        for (int i = 0; i < units; i++)
        {
            statistics.AddMiss();
        }
    }

    public void CacheHit(int units)
    {
        for (int i = 0; i < units; i++)
        {
            statistics.AddHit();
        }
    }

    public void VerificationFailed(SeekableUnit unit, string layer)
    {
        statistics.AddChunkError();
        foreach (LazyLayerStatistics known in statistics.Layers)
        {
            if (layer.Contains(known.Digest.ToString(), StringComparison.Ordinal))
            {
                known.AddUnitError();
                break;
            }
        }

        LogUnitFailed(layer, unit.CompressedOffset, unit.CompressedLength, unit.Digest);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "A unit of layer {Layer} (blob bytes {Offset}+{Length}) did not decode to its digest {Digest}: the read gets EIO, nothing is cached.")]
    private partial void LogUnitFailed(string layer, long offset, int length, Digest digest);
}
