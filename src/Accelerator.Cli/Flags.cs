using System.CommandLine;
using System.CommandLine.Parsing;
using Accelerator.Cli.Console;

namespace Accelerator.Cli;

/// <summary>
/// Flags that read sizes and durations (through <see cref="Units"/>, so every command accepts the same units), and the
/// hidden aliases that keep an old spelling working after a rename.
/// </summary>
internal static class Flags
{
    /// <summary>
    /// A size flag (<c>512</c>, <c>64K</c>, <c>200M</c>, <c>10G</c>; binary units); a bad value is a usage error naming the
    /// flag. Not given, its value is null: state the default in <paramref name="description"/> and apply it when reading.
    /// </summary>
    public static Option<long?> Size(string name, string description, bool allowZero = false, long plainUnit = 1, bool hidden = false) => new(name)
    {
        Description = description,
        HelpName = "SIZE",
        Hidden = hidden,
        CustomParser = argument => Parse(argument, text => Units.ParseBytes(name, text, allowZero, plainUnit)),
    };

    /// <summary>
    /// A duration flag (<c>30s</c>, <c>5m</c>, <c>12h</c>, <c>1d</c>; a number alone counts <paramref name="plainUnit"/>);
    /// a bad value is a usage error naming the flag. Not given, its value is null.
    /// </summary>
    public static Option<TimeSpan?> Duration(string name, string description, TimeSpan plainUnit, bool allowZero = false, bool hidden = false) => new(name)
    {
        Description = description,
        HelpName = "DURATION",
        Hidden = hidden,
        CustomParser = argument => Parse(argument, text => Units.ParseDuration(name, text, plainUnit, allowZero)),
    };

    /// <summary>
    /// An old spelling of a renamed flag, accepted but not shown in help. Read it with
    /// <c>result.GetValue(newFlag) ?? result.GetValue(oldFlag)</c>.
    /// </summary>
    public static Option<string?> HiddenAlias(string name, string replacedBy) => new(name)
    {
        Description = $"Replaced by {replacedBy}.",
        Hidden = true,
    };

    private static T? Parse<T>(ArgumentResult argument, Func<string, T> parse)
        where T : struct
    {
        try
        {
            return parse(argument.Tokens.Single().Value);
        }
        catch (FormatException ex)
        {
            argument.AddError(ex.Message);
            return null;
        }
    }
}
