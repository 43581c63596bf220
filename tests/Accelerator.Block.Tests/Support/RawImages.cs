using System.Security.Cryptography;

namespace Accelerator.Block.Tests.Support;

/// <summary>Raw disk images for tests: seeded random data with zero runs (so sparse paths are taken too).</summary>
internal static class RawImages
{
    public static string CreateRandom(string path, long size, int seed)
    {
        var random = new Random(seed);
        byte[] data = new byte[size];
        random.NextBytes(data);

        // Zero runs: a whole MiB, and a few 4 KiB blocks.
        if (size >= 4 * 1024 * 1024)
        {
            data.AsSpan(2 * 1024 * 1024, 1024 * 1024).Clear();
        }

        for (int i = 0; i < 8 && size > 8192; i++)
        {
            data.AsSpan(random.Next((int)(size / 4096) - 1) * 4096, 4096).Clear();
        }

        File.WriteAllBytes(path, data);
        return path;
    }

    public static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
