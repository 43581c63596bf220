using Accelerator.Block.Mounting;
using Accelerator.Hosting;
using Accelerator.Oci;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Accelerator;

/// <summary>Adds the block-device strategy to an accelerator.</summary>
public static class BlockDeviceBuilderExtensions
{
    /// <summary>
    /// Adds the block mounter: block images (<c>accel convert --format block</c>, the reference itself or
    /// <c>TAG-accel-block</c> beside it) — or any image an added <see cref="IBlockImageOpener"/> can open — are exposed as
    /// one FUSE file, attached to a loop device and their file system mounted (writable through an overlay), blocks
    /// fetched as they are read; other images fall through to the next strategy.
    /// </summary>
    public static ImageAcceleratorBuilder UseBlockDevice(this ImageAcceleratorBuilder builder, Action<BlockMountOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddRegistries();
        builder.Services.AddStrategyOptions(configure, new BlockMountOptionsValidator(), "block mount");

        // Block images (accel convert --format block) are the default format; AddBlockImageOpener adds others.
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IBlockImageOpener, BlockImageOpener>(services => new BlockImageOpener(
            services.GetRequiredService<ImageStoreResolver>(),
            services.GetRequiredService<IOptions<BlockMountOptions>>().Value,
            services.GetService<ILoggerFactory>(),
            services.GetService<TimeProvider>())));
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IImageMounter, BlockMounter>(services => new BlockMounter(
            services.GetServices<IBlockImageOpener>(),
            services.GetRequiredService<IOptions<BlockMountOptions>>().Value,
            services.GetService<ILoggerFactory>(),
            services.GetService<TimeProvider>())));
        return builder;
    }

    /// <summary>Adds a way to open images' virtual disks (a block image format); openers are tried in the order added.</summary>
    public static ImageAcceleratorBuilder AddBlockImageOpener<TOpener>(this ImageAcceleratorBuilder builder)
        where TOpener : class, IBlockImageOpener
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IBlockImageOpener, TOpener>());
        return builder;
    }
}
