using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;

namespace Accelerator;

/// <summary>
/// A content digest, <c>algorithm:encoded</c>, as defined by the OCI image specification (descriptor.md, "Digests").
/// Parsing is strict: only known algorithms, lowercase hexadecimal of the algorithm's exact length. A digest that parses
/// is therefore safe to use as a file name or URL segment; <c>sha256:../x</c> and friends never get that far.
/// </summary>
public readonly struct Digest : IEquatable<Digest>, IComparable<Digest>, ISpanParsable<Digest>
{
    private readonly string? _value;

    // One reference field only: a Digest is then read and written atomically, so a digest cached in an array and
    // read by other threads can never be seen half-written.
    private Digest(string value)
    {
        _value = value;
    }

    private int Separator => Value.IndexOf(':');

    /// <summary>The algorithm, <c>sha256</c> or <c>sha512</c>.</summary>
    public string Algorithm => Value[..Separator];

    /// <summary>The lowercase hexadecimal encoded hash.</summary>
    public string Encoded => Value[(Separator + 1)..];

    /// <summary>The full digest string, <c>algorithm:encoded</c>.</summary>
    public string Value => _value ?? throw new InvalidOperationException("The digest is uninitialized (default).");

    /// <summary>True when this is <c>default(Digest)</c>, which holds no value.</summary>
    public bool IsEmpty => _value is null;

    /// <summary>Parses a digest, throwing <see cref="FormatException"/> when it is not strictly valid.</summary>
    public static Digest Parse(string value) => Parse(value, null);

    /// <inheritdoc />
    public static Digest Parse(string s, IFormatProvider? provider)
        => TryParse(s, provider, out var digest)
            ? digest
            : throw new FormatException($"Invalid digest '{Truncate(s)}': expected sha256:<64 lowercase hex> or sha512:<128 lowercase hex>.");

    /// <inheritdoc />
    public static Digest Parse(ReadOnlySpan<char> s, IFormatProvider? provider) => Parse(s.ToString(), provider);

    /// <summary>Tries to parse a digest strictly.</summary>
    public static bool TryParse([NotNullWhen(true)] string? value, out Digest digest) => TryParse(value, null, out digest);

    /// <inheritdoc />
    public static bool TryParse([NotNullWhen(true)] string? s, IFormatProvider? provider, out Digest result)
    {
        result = default;
        if (s is null)
        {
            return false;
        }

        int colon = s.IndexOf(':');
        if (colon <= 0)
        {
            return false;
        }

        int expected = HexLength(s.AsSpan(0, colon));
        if (expected == 0 || s.Length - colon - 1 != expected)
        {
            return false;
        }

        foreach (char c in s.AsSpan(colon + 1))
        {
            if (!char.IsAsciiHexDigitLower(c) && !char.IsAsciiDigit(c))
            {
                return false;
            }
        }

        result = new Digest(s);
        return true;
    }

    /// <inheritdoc />
    public static bool TryParse(ReadOnlySpan<char> s, IFormatProvider? provider, out Digest result)
        => TryParse(s.ToString(), provider, out result);

    /// <summary>Whether <paramref name="algorithm"/> is one this library can compute and verify.</summary>
    public static bool IsSupportedAlgorithm(ReadOnlySpan<char> algorithm) => HexLength(algorithm) != 0;

    /// <summary>Creates a digest from an algorithm and raw hash bytes.</summary>
    public static Digest FromHash(string algorithm, ReadOnlySpan<byte> hash)
        => Parse(algorithm + ":" + Convert.ToHexStringLower(hash));

    /// <summary>Computes the sha256 digest of <paramref name="data"/>.</summary>
    public static Digest Compute(ReadOnlySpan<byte> data) => FromHash(Sha256, SHA256.HashData(data));

    /// <summary>Computes the digest of <paramref name="data"/> with <paramref name="algorithm"/>.</summary>
    public static Digest Compute(string algorithm, ReadOnlySpan<byte> data) => algorithm switch
    {
        Sha256 => FromHash(Sha256, SHA256.HashData(data)),
        Sha512 => FromHash(Sha512, SHA512.HashData(data)),
        _ => throw new NotSupportedException($"Unsupported digest algorithm '{algorithm}'."),
    };

    /// <summary>Computes the sha256 digest of a stream, read to its end.</summary>
    public static async Task<Digest> ComputeAsync(Stream stream, CancellationToken cancellationToken = default)
        => FromHash(Sha256, await SHA256.HashDataAsync(stream, cancellationToken).ConfigureAwait(false));

    /// <summary>Creates an incremental hash for this digest's algorithm.</summary>
    public IncrementalHash CreateHasher() => CreateHasher(Algorithm);

    /// <summary>Creates an incremental hash for <paramref name="algorithm"/>.</summary>
    public static IncrementalHash CreateHasher(string algorithm) => algorithm switch
    {
        Sha256 => IncrementalHash.CreateHash(HashAlgorithmName.SHA256),
        Sha512 => IncrementalHash.CreateHash(HashAlgorithmName.SHA512),
        _ => throw new NotSupportedException($"Unsupported digest algorithm '{algorithm}'."),
    };

    /// <summary>Whether <paramref name="data"/> hashes to this digest.</summary>
    public bool Matches(ReadOnlySpan<byte> data) => Compute(Algorithm, data).Equals(this);

    /// <summary>The sha256 algorithm name.</summary>
    public const string Sha256 = "sha256";

    /// <summary>The sha512 algorithm name.</summary>
    public const string Sha512 = "sha512";

    private static int HexLength(ReadOnlySpan<char> algorithm) => algorithm switch
    {
        Sha256 => 64,
        Sha512 => 128,
        _ => 0,
    };

    private static string Truncate(string? s) => s is null ? "(null)" : s.Length > 80 ? s[..80] + "…" : s;

    /// <inheritdoc />
    public bool Equals(Digest other) => string.Equals(_value, other._value, StringComparison.Ordinal);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is Digest other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => _value is null ? 0 : StringComparer.Ordinal.GetHashCode(_value);

    /// <inheritdoc />
    public int CompareTo(Digest other) => string.CompareOrdinal(_value, other._value);

    /// <inheritdoc />
    public override string ToString() => _value ?? string.Empty;

    /// <summary>Equality.</summary>
    public static bool operator ==(Digest left, Digest right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(Digest left, Digest right) => !left.Equals(right);
}
