using System.Security.Cryptography;

namespace Accelerator.Lazy.Conversion;

/// <summary>A read-only pass-through that counts what is read and, when given a digest, hashes it to check at the end.</summary>
internal sealed class LayerReadStream(Stream inner, Digest? expected, Action<long>? progress) : CountingStream(inner, progress, leaveOpen: true)
{
    private readonly IncrementalHash? _hash = expected is { } digest ? digest.CreateHasher() : null;

    /// <summary>Checks the bytes read against the expected digest (a no-op without one).</summary>
    /// <exception cref="DigestMismatchException">They differ.</exception>
    public void Verify(string what)
    {
        if (_hash is null || expected is not { } digest)
        {
            return;
        }

        var actual = Digest.FromHash(digest.Algorithm, _hash.GetHashAndReset());
        if (actual != digest)
        {
            throw new DigestMismatchException(digest, actual.ToString(), $"uncompressed {what} (config diff_id)");
        }
    }

    protected override void OnRead(ReadOnlySpan<byte> data) => _hash?.AppendData(data);

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _hash?.Dispose();
        }

        base.Dispose(disposing);
    }
}
