using Accelerator.Hosting;
using Accelerator.Lazy.Mounting;
using Accelerator.Oci;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Accelerator;

/// <summary>Adds the lazy strategy to an accelerator.</summary>
public static class LazyMountBuilderExtensions
{
    /// <summary>
    /// Adds the lazy mounter: images converted with <c>accel convert --format lazy</c> (the reference itself or
    /// <c>TAG-accel</c> beside it) are mounted with FUSE and fetched as they are read; others fall through to the next
    /// strategy.
    /// </summary>
    public static ImageAcceleratorBuilder UseLazyMount(this ImageAcceleratorBuilder builder, Action<LazyMountOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddRegistries();
        builder.Services.AddStrategyOptions(configure, new LazyMountOptionsValidator(), "lazy mount");

        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IImageMounter, LazyMounter>(services => new LazyMounter(
            services.GetRequiredService<ImageStoreResolver>(),
            services.GetRequiredService<IOptions<LazyMountOptions>>().Value,
            services.GetService<ILoggerFactory>(),
            services.GetService<TimeProvider>())));
        return builder;
    }
}
