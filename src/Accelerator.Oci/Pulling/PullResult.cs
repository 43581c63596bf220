using Accelerator.Oci.Resolution;

namespace Accelerator.Oci.Pulling;

/// <summary>What a pull did.</summary>
/// <param name="Image">The resolved image.</param>
/// <param name="TargetDirectory">The root file system written.</param>
/// <param name="BytesFetched">Compressed layer bytes fetched (config and manifests not counted).</param>
/// <param name="BytesWritten">File data bytes written.</param>
/// <param name="Entries">Layer entries applied.</param>
/// <param name="Elapsed">Wall time.</param>
public sealed record PullResult(ResolvedImage Image, string TargetDirectory, long BytesFetched, long BytesWritten, long Entries, TimeSpan Elapsed)
{
    /// <summary>
    /// Compressed layer bytes fetched per source: <see cref="PullOptions.SourceName"/>, or the names a source that reads
    /// from several places gives (<c>origin</c>, <c>mirror:HOST</c>); bytes read again after a failover count twice.
    /// </summary>
    public IReadOnlyDictionary<string, long> BytesFetchedBySource { get; init; } = new Dictionary<string, long>();
}
