using Accelerator.Lazy.Mounting;

namespace Accelerator;

/// <summary>Adds the lazy strategy to an accelerator.</summary>
public static class LazyMountBuilderExtensions
{
    /// <summary>The lazy strategy's place in the default order: after the snapshot cache (see <see cref="StrategyRegistration"/>).</summary>
    public const int Order = 200;

    /// <summary>
    /// Adds the lazy mounter as <see cref="Strategy.Lazy"/>: images converted with <c>accel convert --format lazy</c> (the
    /// reference itself or <c>TAG-accel</c> beside it) are mounted with FUSE and fetched as they are read; others fall
    /// through to the next strategy.
    /// </summary>
    public static ImageAcceleratorBuilder UseLazyMount(this ImageAcceleratorBuilder builder, Action<LazyMountOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddStrategy<LazyMounter, LazyMountOptions>(Strategy.Lazy, Order, configure, new LazyMountOptionsValidator(), "lazy mount");
    }
}
