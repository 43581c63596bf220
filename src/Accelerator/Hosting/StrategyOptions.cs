using Accelerator.Oci.Validation;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Accelerator.Hosting;

/// <summary>Registers a strategy's options the same way for every <c>Use…</c> extension.</summary>
internal static class StrategyOptions
{
    /// <summary>
    /// Adds <typeparamref name="TOptions"/> with <paramref name="configure"/> applied, checked when the accelerator
    /// starts by <paramref name="validator"/> (the options' generated <c>[OptionsValidator]</c>, the one their constructors
    /// call too): a failure fails the start with "Invalid <paramref name="description"/> options: REASON".
    /// </summary>
    public static void AddStrategyOptions<TOptions>(this IServiceCollection services, Action<TOptions>? configure, IValidateOptions<TOptions> validator, string description)
        where TOptions : class
    {
        var options = services.AddOptions<TOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        // One validator per options type however often the strategy is added (TryAddEnumerable keys on its type).
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TOptions>>(new Described<TOptions>(validator, description)));
        options.ValidateOnStart();
    }

    private sealed class Described<TOptions>(IValidateOptions<TOptions> validator, string description) : IValidateOptions<TOptions>
        where TOptions : class
    {
        public ValidateOptionsResult Validate(string? name, TOptions options)
            => name != Options.DefaultName ? ValidateOptionsResult.Skip : validator.ValidateDescribed(name, options, description);
    }
}
