using System.Formats.Tar;
using System.Text.Json.Nodes;

namespace Accelerator.Snapshots.Tests.Support;

/// <summary>A snapshot archive as its entries, to forge one the way an attacker would, and write it back.</summary>
internal sealed class ArchiveEntries
{
    private ArchiveEntries(List<(string Name, byte[] Data)> entries)
    {
        Entries = entries;
    }

    public List<(string Name, byte[] Data)> Entries { get; }

    public static ArchiveEntries Read(byte[] archive)
    {
        var entries = new List<(string, byte[])>();
        using var reader = new TarReader(new MemoryStream(archive));
        while (reader.GetNextEntry() is { } entry)
        {
            using var data = new MemoryStream();
            entry.DataStream?.CopyTo(data);
            entries.Add((entry.Name, data.ToArray()));
        }

        return new ArchiveEntries(entries);
    }

    public byte[] this[string name]
    {
        get => Entries.Single(e => e.Name == name).Data;
        set => Entries[Entries.FindIndex(e => e.Name == name)] = (name, value);
    }

    public bool Contains(string name) => Entries.Any(e => e.Name == name);

    /// <summary>Edits <c>snapshot.json</c>.</summary>
    public void EditHeader(Action<JsonObject> edit)
    {
        var header = JsonNode.Parse(this["snapshot.json"])!.AsObject();
        edit(header);
        this["snapshot.json"] = System.Text.Encoding.UTF8.GetBytes(header.ToJsonString());
    }

    public byte[] Write()
    {
        using var output = new MemoryStream();
        using (var writer = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var (name, data) in Entries)
            {
                writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(data) });
            }
        }

        return output.ToArray();
    }
}
