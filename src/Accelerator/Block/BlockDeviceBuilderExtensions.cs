using Accelerator.Block.Mounting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Accelerator;

/// <summary>Adds the block-device strategy to an accelerator.</summary>
public static class BlockDeviceBuilderExtensions
{
    /// <summary>
    /// Adds the block mounter: an image whose virtual disk an <see cref="IBlockImageOpener"/> can open is exposed as one
    /// FUSE file, attached to a loop device and its file system mounted (writable through an overlay); other images fall
    /// through to the next strategy.
    /// </summary>
    public static ImageAcceleratorBuilder UseBlockDevice(this ImageAcceleratorBuilder builder, Action<BlockMountOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = builder.Services.AddOptions<BlockMountOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.Validate(o =>
        {
            try
            {
                o.Validate();
                return true;
            }
            catch (ArgumentException)
            {
                return false;
            }
        }, "Invalid block mount options.").ValidateOnStart();

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
