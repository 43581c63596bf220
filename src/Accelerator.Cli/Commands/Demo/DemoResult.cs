using System.Globalization;
using Accelerator.Cli.Console;
using Spectre.Console;

namespace Accelerator.Cli.Commands.Demo;

/// <summary>One row of the demo's table: what one strategy did, or why it was skipped.</summary>
/// <param name="Strategy">The strategy's name.</param>
/// <param name="TimeToReady">Until the image was ready to use; null when skipped.</param>
/// <param name="BytesFetched">Bytes the mount (or mounts) fetched, by the library's statistics.</param>
/// <param name="BytesRead">Bytes the demo's reads of the fixed file set returned.</param>
/// <param name="RegistryBytes">Body bytes the in-process registries served meanwhile.</param>
/// <param name="Note">What else is worth knowing, or the reason for skipping.</param>
internal sealed record DemoResult(string Strategy, TimeSpan? TimeToReady, long BytesFetched, long BytesRead, long RegistryBytes, string Note)
{
    /// <summary>Whether the strategy ran.</summary>
    public bool Ran => TimeToReady is not null;

    /// <summary>A skipped row.</summary>
    public static DemoResult Skipped(string strategy, string reason) => new(strategy, null, 0, 0, 0, "skipped: " + reason);

    private string[] Cells() => Ran
        ? [
            Strategy,
            Duration(TimeToReady!.Value),
            Units.Bytes(BytesFetched),
            Units.Bytes(BytesRead),
            Units.Bytes(RegistryBytes),
            Note,
        ]
        : [Strategy, "-", "-", "-", "-", Note];

    // Seconds with two decimals, or milliseconds under a second (so fast mounts do not read as 0.00 s).
    private static string Duration(TimeSpan elapsed) => elapsed.TotalSeconds >= 1
        ? string.Create(CultureInfo.InvariantCulture, $"{elapsed.TotalSeconds:F2} s")
        : string.Create(CultureInfo.InvariantCulture, $"{elapsed.TotalMilliseconds:F0} ms");

    private static readonly string[] Headers = ["strategy", "time to ready", "bytes fetched", "bytes read", "registry bytes", "note"];

    /// <summary>Writes the table: with Spectre.Console on a terminal, as aligned plain text otherwise.</summary>
    public static void WriteTable(CliConsole console, IReadOnlyList<DemoResult> results)
    {
        var rows = results.Select(r => r.Cells()).ToList();
        if (console.Interactive)
        {
            var table = new Table().AddColumns(Headers);
            foreach (var row in rows)
            {
                table.AddRow(row.Select(Markup.Escape).ToArray());
            }

            AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(console.Out) }).Write(table);
            return;
        }

        int[] widths = [.. Headers.Select((h, i) => rows.Select(r => r[i].Length).Append(h.Length).Max())];
        console.WriteLine(Line(Headers, widths));
        console.WriteLine(string.Join("-+-", widths.Select(w => new string('-', w))));
        foreach (var row in rows)
        {
            console.WriteLine(Line(row, widths));
        }
    }

    private static string Line(string[] cells, int[] widths)
        => string.Join(" | ", cells.Select((c, i) => i == cells.Length - 1 ? c : c.PadRight(widths[i]))).TrimEnd();
}
