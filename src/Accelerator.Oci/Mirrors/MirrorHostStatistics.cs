namespace Accelerator.Oci.Mirrors;

/// <summary>What one host of the mirror sets has done so far, and whether it is being left alone.</summary>
/// <param name="Host">The host key, <c>host[:port]</c>.</param>
/// <param name="Requests">Reads and checks sent to it (blobs, ranges, manifests, HEADs).</param>
/// <param name="Failures">Of those, the ones that failed: errors, stalls, bad bytes (a 404 is not a failure).</param>
/// <param name="BytesServed">Blob and range bytes received from it, including bytes later thrown away.</param>
/// <param name="BlobsServed">Whole blobs it served completely and correctly.</param>
/// <param name="Outstanding">Requests in flight now.</param>
/// <param name="OpenUntil">Until when it is left alone after failures, or null when it is in use.</param>
public sealed record MirrorHostStatistics(string Host, long Requests, long Failures, long BytesServed, long BlobsServed, int Outstanding, DateTimeOffset? OpenUntil);
