using System.Globalization;
using System.Text.RegularExpressions;

namespace Accelerator.P2P.Tests.Processes;

/// <summary>Reads docker-registry's log: the bytes it wrote for GETs of one blob ("response completed" lines).</summary>
internal static partial class RegistryAccessLog
{
    public static long BlobBytesServed(string log, Digest blob)
    {
        long total = 0;
        foreach (string line in log.Split('\n'))
        {
            if (!line.Contains("response completed", StringComparison.Ordinal)
                || !line.Contains("http.request.method=GET", StringComparison.Ordinal)
                || !line.Contains($"/blobs/{blob}", StringComparison.Ordinal))
            {
                continue;
            }

            var written = Written().Match(line);
            if (written.Success)
            {
                total += long.Parse(written.Groups[1].Value, CultureInfo.InvariantCulture);
            }
        }

        return total;
    }

    [GeneratedRegex(@"http\.response\.written=(\d+)")]
    private static partial Regex Written();
}
