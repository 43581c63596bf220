using Microsoft.Extensions.Options;

namespace Accelerator.Oci.Validation;

/// <summary>
/// Validates options outside dependency injection with the same validator a host runs at start: every options class is
/// checked by one source-generated <c>[OptionsValidator]</c> (its data annotations, and its
/// <see cref="System.ComponentModel.DataAnnotations.IValidatableObject"/> rules across fields), whether it is bound in a
/// host or passed to a constructor.
/// </summary>
public static class ValidateOptionsExtensions
{
    /// <summary>
    /// Validates <paramref name="options"/> with <paramref name="validator"/> and throws <see cref="ArgumentException"/>
    /// naming every failure ("Invalid <paramref name="description"/> options: …"), as a constructor given bad options does.
    /// </summary>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    public static void ThrowIfInvalid<TOptions>(this IValidateOptions<TOptions> validator, TOptions options, string description)
        where TOptions : class
    {
        ArgumentNullException.ThrowIfNull(validator);
        ArgumentNullException.ThrowIfNull(options);
        if (validator.Validate(Options.DefaultName, options) is { Failed: true } result)
        {
            throw new ArgumentException(Describe(result, description));
        }
    }

    /// <summary>
    /// Validates <paramref name="options"/> with <paramref name="validator"/> and throws
    /// <see cref="ArgumentOutOfRangeException"/> (an <see cref="ArgumentException"/>) naming every failure ("Invalid
    /// <paramref name="description"/> options: …"), for options of a method whose callers have always been given that
    /// type for bounds on sizes, counts and timeouts (the chunk cache, converters, readers).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The options are invalid.</exception>
    public static void ThrowIfOutOfRange<TOptions>(this IValidateOptions<TOptions> validator, TOptions options, string description)
        where TOptions : class
    {
        ArgumentNullException.ThrowIfNull(validator);
        ArgumentNullException.ThrowIfNull(options);
        if (validator.Validate(Options.DefaultName, options) is { Failed: true } result)
        {
            throw new ArgumentOutOfRangeException(paramName: null, Describe(result, description));
        }
    }

    /// <summary>
    /// The validator's result with each failure prefixed "Invalid <paramref name="description"/> options: ", for a host's
    /// start (success and skip pass through).
    /// </summary>
    public static ValidateOptionsResult ValidateDescribed<TOptions>(this IValidateOptions<TOptions> validator, string? name, TOptions options, string description)
        where TOptions : class
    {
        ArgumentNullException.ThrowIfNull(validator);
        var result = validator.Validate(name, options);
        return result.Failed ? ValidateOptionsResult.Fail(Describe(result, description)) : result;
    }

    private static string Describe(ValidateOptionsResult result, string description)
        => $"Invalid {description} options: {(result.Failures is { } failures ? string.Join(" ", failures) : result.FailureMessage)}";
}
