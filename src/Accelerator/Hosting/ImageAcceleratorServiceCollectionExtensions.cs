using Accelerator;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the image accelerator in a service collection.</summary>
public static class ImageAcceleratorServiceCollectionExtensions
{
    /// <summary>
    /// Adds <see cref="IImageAccelerator"/> and its core services, and lets <paramref name="configure"/> add registries
    /// and strategies. Options are validated when the host starts.
    /// </summary>
    public static ImageAcceleratorBuilder AddImageAccelerator(this IServiceCollection services, Action<ImageAcceleratorBuilder>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddLogging();
        services.AddMetrics();
        var builder = new ImageAcceleratorBuilder(services);
        configure?.Invoke(builder);
        return builder;
    }
}
