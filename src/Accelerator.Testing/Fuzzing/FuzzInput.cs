using System.Text;

namespace Accelerator.Testing.Fuzzing;

/// <summary>
/// Random and mutated inputs for fuzz-style parser tests: a test feeds them to a parser and checks that it either
/// succeeds or throws one of its documented exceptions. Seeded <see cref="Random"/> keeps failures reproducible.
/// </summary>
public static class FuzzInput
{
    // Tokens that push JSON and text parsers down their less travelled paths.
    private static readonly byte[][] Tokens =
    [
        .. new[]
        {
            "{", "}", "[", "]", "\"", ":", ",", "null", "true", "-1", "0", "1e999", "-9223372036854775809",
            "18446744073709551616", "1.5", "\"\"", "\\u0000", "\\", "{}", "[]", "\"sha256:\"", "\"sha256:../x\"",
            "\"mediaType\"", "\"digest\"", "\"size\"", "\"manifests\"", "\"layers\"", "\"schemaVersion\"", "\"platform\"",
            "\"annotations\"", "\u00ff", "\0",
        }.Select(Encoding.UTF8.GetBytes),
    ];

    /// <summary>Between 0 and <paramref name="maxLength"/> random bytes.</summary>
    public static byte[] RandomBytes(Random random, int maxLength)
    {
        ArgumentNullException.ThrowIfNull(random);
        byte[] bytes = new byte[random.Next(maxLength + 1)];
        random.NextBytes(bytes);
        return bytes;
    }

    /// <summary>
    /// <paramref name="seed"/> with one to four random mutations: bit flips, byte overwrites, insertions of random
    /// bytes or syntax tokens, deletions, duplications and truncation.
    /// </summary>
    public static byte[] Mutate(ReadOnlySpan<byte> seed, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        var data = new List<byte>(seed.ToArray());
        int mutations = random.Next(1, 5);
        for (int i = 0; i < mutations; i++)
        {
            int at = data.Count == 0 ? 0 : random.Next(data.Count);
            switch (random.Next(7))
            {
                case 0 when data.Count > 0:
                    data[at] ^= (byte)(1 << random.Next(8));
                    break;
                case 1 when data.Count > 0:
                    data[at] = (byte)random.Next(256);
                    break;
                case 2:
                    data.InsertRange(at, RandomBytes(random, 8));
                    break;
                case 3:
                    data.InsertRange(at, Tokens[random.Next(Tokens.Length)]);
                    break;
                case 4 when data.Count > 0:
                    data.RemoveRange(at, random.Next(1, Math.Min(16, data.Count - at) + 1));
                    break;
                case 5 when data.Count > 0:
                    int length = random.Next(1, Math.Min(64, data.Count - at) + 1);
                    data.InsertRange(at, data.GetRange(at, length));
                    break;
                case 6:
                    data.RemoveRange(at, data.Count - at);
                    break;
            }
        }

        return [.. data];
    }
}
