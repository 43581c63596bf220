using System.Text;

namespace Accelerator.Snapshotter.Metadata;

/// <summary>
/// The bounds on what a client may store: keys/names and labels. containerd limits a label (key and value together) to
/// 4096 bytes (<c>labels.Validate</c>); we hold keys to the same bound and cap the number of labels per snapshot.
/// </summary>
public static class SnapshotLabels
{
    /// <summary>The most bytes (UTF-8) of a label's key and value together, and of a snapshot key or name.</summary>
    public const int MaxBytes = 4096;

    /// <summary>The most labels one snapshot carries.</summary>
    public const int MaxCount = 256;

    /// <summary>The label containerd's unpacker sets on <c>Prepare</c>: the chain ID of the layer it is about to unpack.</summary>
    public const string TargetReference = "containerd.io/snapshot.ref";

    /// <summary>Throws InvalidArgument unless <paramref name="key"/> is a usable key or name (non-empty, at most <see cref="MaxBytes"/>, no NUL).</summary>
    public static void ValidateKey(string? key, string what)
    {
        if (string.IsNullOrEmpty(key))
        {
            throw SnapshotException.InvalidArgument($"{what} must not be empty");
        }

        if (Encoding.UTF8.GetByteCount(key) > MaxBytes)
        {
            throw SnapshotException.InvalidArgument($"{what} is longer than {MaxBytes} bytes");
        }

        if (key.Contains('\0', StringComparison.Ordinal))
        {
            throw SnapshotException.InvalidArgument($"{what} must not contain NUL");
        }
    }

    /// <summary>Throws InvalidArgument unless every label is within the bounds.</summary>
    public static void Validate(IReadOnlyDictionary<string, string> labels)
    {
        if (labels.Count > MaxCount)
        {
            throw SnapshotException.InvalidArgument($"a snapshot carries at most {MaxCount} labels, not {labels.Count}");
        }

        foreach (var (key, value) in labels)
        {
            if (key.Length == 0)
            {
                throw SnapshotException.InvalidArgument("a label key must not be empty");
            }

            if (Encoding.UTF8.GetByteCount(key) + Encoding.UTF8.GetByteCount(value) > MaxBytes)
            {
                throw SnapshotException.InvalidArgument($"label key and value greater than maximum size ({MaxBytes} bytes), key: {Shorten(key)}");
            }

            if (key.Contains('\0', StringComparison.Ordinal) || value.Contains('\0', StringComparison.Ordinal))
            {
                throw SnapshotException.InvalidArgument($"label {Shorten(key)} must not contain NUL");
            }
        }
    }

    /// <summary>Whether <paramref name="value"/> is a chain ID as containerd names committed layers: <c>sha256:</c> and 64 lowercase hex digits.</summary>
    public static bool IsChainId(string? value)
    {
        const string Prefix = "sha256:";
        if (value is null || value.Length != Prefix.Length + 64 || !value.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        foreach (char c in value.AsSpan(Prefix.Length))
        {
            if (!char.IsAsciiHexDigitLower(c) && !char.IsAsciiDigit(c))
            {
                return false;
            }
        }

        return true;
    }

    internal static string Shorten(string text) => text.Length <= 64 ? text : string.Concat(text.AsSpan(0, 61), "...");
}
