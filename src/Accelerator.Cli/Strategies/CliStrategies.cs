namespace Accelerator.Cli.Strategies;

/// <summary>The strategies <c>accel</c> offers: the one list the commands read.</summary>
internal static class CliStrategies
{
    /// <summary>
    /// New registrations (with their own option instances) for one command tree, in the order <c>--strategy</c>'s help
    /// lists them. A new strategy adds one line here.
    /// </summary>
    public static IReadOnlyList<CliStrategy> Create() =>
    [
        new CacheCliStrategy(),
        new LazyCliStrategy(),
        new BlockCliStrategy(),
        new FullCliStrategy(),
    ];
}
