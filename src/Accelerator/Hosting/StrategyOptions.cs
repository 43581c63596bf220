using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Accelerator.Hosting;

/// <summary>Registers a strategy's options the same way for every <c>Use…</c> extension.</summary>
internal static class StrategyOptions
{
    /// <summary>
    /// Adds <typeparamref name="TOptions"/> with <paramref name="configure"/> applied, checked when the accelerator
    /// starts by <paramref name="validate"/> (the options' own <c>Validate()</c>): an <see cref="ArgumentException"/>
    /// from it fails the start with "Invalid <paramref name="description"/> options: REASON".
    /// </summary>
    public static void AddStrategyOptions<TOptions>(this IServiceCollection services, Action<TOptions>? configure, Action<TOptions> validate, string description)
        where TOptions : class
    {
        var options = services.AddOptions<TOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        // One validator per options type however often the strategy is added (TryAddEnumerable keys on its type).
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TOptions>>(new Validator<TOptions>(validate, description)));
        options.ValidateOnStart();
    }

    private sealed class Validator<TOptions>(Action<TOptions> validate, string description) : IValidateOptions<TOptions>
        where TOptions : class
    {
        public ValidateOptionsResult Validate(string? name, TOptions options)
        {
            if (name != Options.DefaultName)
            {
                return ValidateOptionsResult.Skip;
            }

            try
            {
                validate(options);
                return ValidateOptionsResult.Success;
            }
            catch (ArgumentException ex)
            {
                return ValidateOptionsResult.Fail($"Invalid {description} options: {ex.Message}");
            }
        }
    }
}
