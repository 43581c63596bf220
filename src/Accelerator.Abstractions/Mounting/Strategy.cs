using System.ComponentModel;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Accelerator;

/// <summary>
/// How an image is made available: the name of a strategy (<c>cache</c>, <c>lazy</c>, <c>block</c>, <c>full</c>, or one
/// a provider package adds). Names are open, like YARP's policy names: a provider registers its mounter under a name,
/// and callers order strategies by name. Names compare case-insensitively; a strategy holds and prints its name in
/// lowercase (the form used in statistics, metrics, logs and the CLI).
/// </summary>
/// <remarks>
/// A name is 1 to 32 characters: ASCII letters, digits and <c>-</c>, starting with a letter. It converts from a string
/// (<see cref="TypeConverter"/>, so configuration binds <c>"Strategies": ["Lazy", "full"]</c>; and JSON).
/// </remarks>
[TypeConverter(typeof(StrategyTypeConverter))]
[JsonConverter(typeof(StrategyJsonConverter))]
public readonly record struct Strategy : IParsable<Strategy>
{
    /// <summary>The longest name a strategy may have.</summary>
    public const int MaxNameLength = 32;

    private readonly string? _name;

    /// <summary>Creates the strategy named <paramref name="name"/> (any case; held in lowercase).</summary>
    /// <exception cref="ArgumentException">The name is empty, too long, or holds a character other than a letter, digit or <c>-</c>.</exception>
    public Strategy(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (Problem(name) is { } problem)
        {
            throw new ArgumentException(problem, nameof(name));
        }

        _name = name.ToLowerInvariant();
    }

    /// <summary>Clone a snapshot prepared ahead of time.</summary>
    public static Strategy Cache { get; } = new("cache");

    /// <summary>Mount a converted lazy image with FUSE; fetch chunks when read.</summary>
    public static Strategy Lazy { get; } = new("lazy");

    /// <summary>Serve the image as a virtual disk whose blocks are fetched when read.</summary>
    public static Strategy Block { get; } = new("block");

    /// <summary>Pull every layer and unpack the flattened tree (the baseline).</summary>
    public static Strategy Full { get; } = new("full");

    /// <summary>The lowercase name; empty for <c>default(Strategy)</c>, which names no strategy.</summary>
    public string Name => _name ?? string.Empty;

    /// <summary>Parses a strategy name (any case).</summary>
    /// <exception cref="FormatException">The name is not a valid strategy name.</exception>
    public static Strategy Parse(string name) => Parse(name, provider: null);

    /// <inheritdoc />
    public static Strategy Parse(string s, IFormatProvider? provider)
    {
        ArgumentNullException.ThrowIfNull(s);
        return Problem(s) is { } problem ? throw new FormatException(problem) : new Strategy(s);
    }

    /// <summary>Parses a strategy name (any case); false when it is not a valid name.</summary>
    public static bool TryParse([NotNullWhen(true)] string? s, out Strategy result) => TryParse(s, provider: null, out result);

    /// <inheritdoc />
    public static bool TryParse([NotNullWhen(true)] string? s, IFormatProvider? provider, out Strategy result)
    {
        result = s is not null && Problem(s) is null ? new Strategy(s) : default;
        return s is not null && result._name is not null;
    }

    /// <summary>The lowercase name.</summary>
    public override string ToString() => Name;

    private static string? Problem(string name)
    {
        if (name.Length is 0 or > MaxNameLength)
        {
            return $"A strategy name has 1 to {MaxNameLength} characters, not {name.Length}.";
        }

        if (!char.IsAsciiLetter(name[0]) || !name.All(c => char.IsAsciiLetterOrDigit(c) || c == '-'))
        {
            return $"'{name}' is not a strategy name: it holds ASCII letters, digits and '-', starting with a letter.";
        }

        return null;
    }
}

/// <summary>Converts strategy names from and to strings (configuration binding, designers).</summary>
public sealed class StrategyTypeConverter : TypeConverter
{
    /// <inheritdoc />
    public override bool CanConvertFrom(ITypeDescriptorContext? context, Type sourceType)
        => sourceType == typeof(string) || base.CanConvertFrom(context, sourceType);

    /// <inheritdoc />
    public override bool CanConvertTo(ITypeDescriptorContext? context, Type? destinationType)
        => destinationType == typeof(string) || base.CanConvertTo(context, destinationType);

    /// <inheritdoc />
    public override object? ConvertFrom(ITypeDescriptorContext? context, CultureInfo? culture, object value)
        => value is string name ? Strategy.Parse(name.Trim()) : base.ConvertFrom(context, culture, value);

    /// <inheritdoc />
    public override object? ConvertTo(ITypeDescriptorContext? context, CultureInfo? culture, object? value, Type destinationType)
        => destinationType == typeof(string) && value is Strategy strategy ? strategy.Name : base.ConvertTo(context, culture, value, destinationType);
}

/// <summary>Writes a strategy as its name, and reads one from a name.</summary>
public sealed class StrategyJsonConverter : JsonConverter<Strategy>
{
    /// <inheritdoc />
    public override Strategy Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        => Strategy.TryParse(reader.GetString(), out var strategy) ? strategy : throw new JsonException($"'{reader.GetString()}' is not a strategy name.");

    /// <inheritdoc />
    public override void Write(Utf8JsonWriter writer, Strategy value, JsonSerializerOptions options)
        => writer.WriteStringValue(value.Name);
}
