using System.Globalization;
using Tomlyn;
using Tomlyn.Model;

namespace Accelerator.Snapshotter.Configuration;

/// <summary>
/// The node daemon's configuration file (<c>accel snapshotter --config FILE</c>) as configuration keys: each TOML table
/// is a section (<c>[snapshotter]</c>, <c>[remote]</c>, <c>[registry]</c>, <c>[cri_proxy]</c>, <c>[p2p]</c>, …) that
/// one part of the daemon binds its options from; nested tables and arrays become nested sections (<c>a:b</c>,
/// <c>a:0</c>). Keys bind case-insensitively to option properties; a <c>snake_case</c> key is also offered without its
/// underscores, so <c>max_queue</c> binds <c>MaxQueue</c>.
/// </summary>
public static class TomlConfigurationFile
{
    /// <summary>The largest configuration file read.</summary>
    public const int MaxBytes = 1024 * 1024;

    /// <summary>Reads <paramref name="path"/> into configuration keys and values.</summary>
    /// <exception cref="FormatException">The file is not valid TOML, or larger than <see cref="MaxBytes"/>.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static IReadOnlyDictionary<string, string?> Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var info = new FileInfo(path);
        if (!info.Exists)
        {
            throw new FileNotFoundException($"The configuration file {path} does not exist.", path);
        }

        if (info.Length > MaxBytes)
        {
            throw new FormatException($"The configuration file {path} is larger than {MaxBytes} bytes.");
        }

        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>Turns TOML <paramref name="text"/> into configuration keys and values; <paramref name="source"/> names it in errors.</summary>
    /// <exception cref="FormatException">The text is not valid TOML.</exception>
    public static IReadOnlyDictionary<string, string?> Parse(string text, string source)
    {
        TomlTable table;
        try
        {
            table = TomlSerializer.Deserialize<TomlTable>(text) ?? [];
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw new FormatException($"The configuration file {source} is not valid TOML: {ex.Message.ReplaceLineEndings(" ")}", ex);
        }

        var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        Flatten(table, "", values);
        return values;
    }

    private static void Flatten(object? value, string prefix, Dictionary<string, string?> values)
    {
        switch (value)
        {
            case TomlTable table:
                foreach (var (key, child) in table)
                {
                    Flatten(child, Join(prefix, key), values);
                    if (key.Contains('_', StringComparison.Ordinal))
                    {
                        Flatten(child, Join(prefix, key.Replace("_", "", StringComparison.Ordinal)), values);
                    }
                }

                break;
            case TomlTableArray tables:
                for (int i = 0; i < tables.Count; i++)
                {
                    Flatten(tables[i], Join(prefix, i.ToString(CultureInfo.InvariantCulture)), values);
                }

                break;
            case TomlArray array:
                for (int i = 0; i < array.Count; i++)
                {
                    Flatten(array[i], Join(prefix, i.ToString(CultureInfo.InvariantCulture)), values);
                }

                break;
            case bool flag:
                values[prefix] = flag ? "true" : "false";
                break;
            case IFormattable formattable:
                values[prefix] = formattable.ToString(null, CultureInfo.InvariantCulture);
                break;
            default:
                values[prefix] = value?.ToString();
                break;
        }
    }

    private static string Join(string prefix, string key) => prefix.Length == 0 ? key : prefix + ":" + key;
}
