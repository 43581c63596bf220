namespace Accelerator;

/// <summary>
/// A strategy's place in the default order, declared by the provider that registers it
/// (<see cref="ImageAcceleratorBuilder.AddStrategy{TMounter}(Strategy, int, Func{IServiceProvider, TMounter}?)"/>).
/// When <see cref="ImageAcceleratorOptions.Strategies"/> is not set, the facade tries the registered strategies by
/// ascending <see cref="Order"/> (ties in the order they were added), so a new provider slots in without editing the
/// facade.
/// </summary>
/// <param name="Strategy">The strategy's name.</param>
/// <param name="Order">Its position: lower is tried first.</param>
/// <remarks>
/// The built-in providers declare: cache 100 (a ready snapshot is the fastest start), lazy 200, block 300, and full
/// 1000 (the baseline that can serve any image, so it comes last). A mounter added without an order
/// (<see cref="ImageAcceleratorBuilder.AddMounter{TMounter}"/>) takes <see cref="DefaultOrder"/>: after the accelerated
/// strategies, before the full pull.
/// </remarks>
public sealed record StrategyRegistration(Strategy Strategy, int Order)
{
    /// <summary>The order of a strategy whose registration declares none.</summary>
    public const int DefaultOrder = 500;
}
