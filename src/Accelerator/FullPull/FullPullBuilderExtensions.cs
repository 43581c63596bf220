using Accelerator.FullPull;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Accelerator;

/// <summary>Adds the full-pull strategy to an accelerator.</summary>
public static class FullPullBuilderExtensions
{
    /// <summary>The full pull's place in the default order: last, since it can serve any image (see <see cref="StrategyRegistration"/>).</summary>
    public const int Order = 1000;

    /// <summary>Adds the full-pull mounter (pull every layer, verify, unpack): the baseline and the last fallback.</summary>
    public static ImageAcceleratorBuilder UseFullPull(this ImageAcceleratorBuilder builder, Action<FullPullOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddRegistries();
        var options = builder.Services.AddOptions<FullPullOptions>().ValidateOnStart();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<FullPullOptions>, FullPullOptionsValidator>());
        return builder.AddStrategy<FullPullMounter>(Strategy.Full, Order);
    }
}
