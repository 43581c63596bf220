using Microsoft.Extensions.Options;

namespace Accelerator.Fuse;

/// <summary>
/// Validation outside dependency injection for the FUSE options, with their generated validators (this package does not
/// reference Accelerator.Oci, whose <c>ValidateOptionsExtensions</c> the other packages use; the message is the same).
/// </summary>
internal static class FuseOptionsValidation
{
    /// <summary>Throws <see cref="ArgumentException"/> naming every failure ("Invalid <paramref name="description"/> options: …").</summary>
    public static void ThrowIfInvalid<TOptions>(IValidateOptions<TOptions> validator, TOptions options, string description)
        where TOptions : class
    {
        ArgumentNullException.ThrowIfNull(options);
        if (validator.Validate(Options.DefaultName, options) is { Failed: true } result)
        {
            throw new ArgumentException($"Invalid {description} options: {(result.Failures is { } failures ? string.Join(" ", failures) : result.FailureMessage)}");
        }
    }
}
