namespace Accelerator.Seekable.Reading;

/// <summary>
/// Told what a <see cref="SeekableContentReader"/> does, for statistics and read traces. Called from the read path,
/// possibly concurrently: keep it cheap and thread-safe.
/// </summary>
public interface ISeekableReadObserver
{
    /// <summary><paramref name="bytes"/> bytes of file <paramref name="inode"/> at <paramref name="offset"/> were served to a reader.</summary>
    void Read(ulong inode, long offset, int bytes);

    /// <summary>One ranged request fetched <paramref name="compressedBytes"/> bytes holding <paramref name="units"/> units from <paramref name="source"/>.</summary>
    void Fetched(string source, long compressedBytes, int units);

    /// <summary><paramref name="units"/> units a read needed were already in the cache.</summary>
    void CacheHit(int units);

    /// <summary>
    /// A fetched unit of layer <paramref name="layer"/> (its digest) did not decode, or decoded to bytes that do not
    /// match its sha256: nothing of it was served or cached.
    /// </summary>
    void VerificationFailed(SeekableUnit unit, string layer);
}
