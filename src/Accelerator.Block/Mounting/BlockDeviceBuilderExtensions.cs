using Accelerator.Block.Mounting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Accelerator;

/// <summary>Adds the block-device strategy to an accelerator.</summary>
public static class BlockDeviceBuilderExtensions
{
    /// <summary>The block strategy's place in the default order: after the lazy one (see <see cref="StrategyRegistration"/>).</summary>
    public const int Order = 300;

    /// <summary>
    /// Adds the block mounter as <see cref="Strategy.Block"/>: block images (<c>accel convert --format block</c>, the
    /// reference itself or <c>TAG-accel-block</c> beside it) — or any image an added <see cref="IBlockImageOpener"/> can
    /// open — are exposed as one FUSE file, attached to a loop device and their file system mounted (writable through an
    /// overlay), blocks fetched as they are read; other images fall through to the next strategy.
    /// </summary>
    public static ImageAcceleratorBuilder UseBlockDevice(this ImageAcceleratorBuilder builder, Action<BlockMountOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        // Block images (accel convert --format block) are the default format; AddBlockImageOpener adds others.
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IBlockImageOpener, BlockImageOpener>(
            services => ActivatorUtilities.CreateInstance<BlockImageOpener>(services, services.GetRequiredService<IOptions<BlockMountOptions>>().Value)));
        return builder.AddStrategy<BlockMounter, BlockMountOptions>(Strategy.Block, Order, configure, new BlockMountOptionsValidator(), "block mount");
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
