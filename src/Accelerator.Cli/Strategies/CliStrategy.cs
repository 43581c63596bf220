using System.CommandLine;
using Accelerator.Oci.Resolution;

namespace Accelerator.Cli.Strategies;

/// <summary>
/// One strategy as <c>accel</c> knows it: its name and description for <c>--strategy</c>, the options it adds to
/// <c>accel mount</c>, how it adds itself to the accelerator builder, and — when it has a format of its own — what
/// <c>accel convert --format NAME</c> and <c>accel inspect</c> do for it. The commands hold no list of strategies: they
/// read <see cref="CliStrategies.Create"/>. Adding a strategy to the CLI is one class and one line there.
/// </summary>
internal abstract class CliStrategy
{
    /// <summary>The strategy (its name is the <c>--strategy</c> value and what statistics print).</summary>
    public abstract Strategy Strategy { get; }

    /// <summary>The strategy's name, as typed after <c>--strategy</c>.</summary>
    public string Name => Strategy.Name;

    /// <summary>What it does, for <c>--strategy</c>'s help.</summary>
    public abstract string Description { get; }

    /// <summary>Options it adds to <c>accel mount</c> (created once per command tree).</summary>
    public virtual IReadOnlyList<Option> MountOptions => [];

    /// <summary>
    /// Adds the strategy to <paramref name="builder"/> for <c>accel mount</c>, configured from the command line — or
    /// leaves it out when it cannot take part (in <c>auto</c> mode the cache stays out when no snapshot store exists).
    /// The facade tries the strategies added in the order their registrations declare, or only the one
    /// <c>--strategy</c> names.
    /// </summary>
    public abstract void AddToMount(ImageAcceleratorBuilder builder, MountContext mount);

    /// <summary>The conversion into this strategy's format (<c>accel convert --format NAME</c>), or null when it has none.</summary>
    public virtual CliConversion? Conversion => null;

    /// <summary>For <c>accel inspect</c>: true when <paramref name="image"/> is in this strategy's format (named <see cref="Name"/>).</summary>
    public virtual bool IsInFormat(ResolvedImage image) => false;
}

/// <summary>What <c>accel mount</c> tells a strategy while the accelerator is built.</summary>
/// <param name="Result">The parsed command line (for the strategy's own <see cref="CliStrategy.MountOptions"/>).</param>
/// <param name="Chosen">The <c>--strategy</c> value: a strategy's name, or <c>auto</c>.</param>
/// <param name="CacheDirectory">The full path of <c>--cache-dir</c>, or null.</param>
/// <param name="StatisticsPath">The full path of <c>--stats-json</c>, or null.</param>
/// <param name="TracePath">The full path of <c>--record-trace</c>, or null.</param>
internal sealed record MountContext(ParseResult Result, string Chosen, string? CacheDirectory, string? StatisticsPath, string? TracePath)
{
    /// <summary>The <c>--strategy</c> value that tries every strategy.</summary>
    public const string Auto = "auto";

    /// <summary>True when <c>--strategy</c> names <paramref name="strategy"/>.</summary>
    public bool Chose(CliStrategy strategy) => Chosen == strategy.Name;
}

/// <summary>
/// <c>accel convert --format NAME</c> for one strategy: the options only this format takes, and the conversion. The
/// command's own arguments and the options every format shares (<c>SRC</c>, <c>DST</c>, <c>--prefetch-list</c>,
/// <c>--parallel</c>) are read by name.
/// </summary>
internal abstract class CliConversion
{
    /// <summary>Options only this format takes (created once per command tree).</summary>
    public virtual IReadOnlyList<Option> Options => [];

    /// <summary>Converts the image <c>SRC</c> names; returns the exit code.</summary>
    public abstract Task<int> ConvertAsync(CommonOptions common, Console.CliConsole console, ParseResult result, CancellationToken cancellationToken);
}
