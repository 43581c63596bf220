using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Accelerator;

/// <summary>Options of the image accelerator facade.</summary>
public sealed class ImageAcceleratorOptions : IValidatableObject
{
    /// <summary>
    /// The strategies to try, in order, by name (configuration binds names in any case: <c>["Lazy", "full"]</c>); a
    /// strategy without a registered mounter is skipped. When set, it must not be empty. (Left unset by default so that
    /// binding a list from configuration replaces the order instead of appending to it.)
    /// <value>
    /// Default: null, meaning every registered strategy in the order its registration declares
    /// (<see cref="StrategyRegistration.Order"/>: cache, lazy, block, then full with the built-in providers).
    /// </value>
    /// </summary>
    [MinLength(1)]
    public IList<Strategy>? Strategies { get; set; }

    /// <summary>
    /// The platform to select from multi-platform images. <value>Default: null, the platform this process runs on.</value>
    /// </summary>
    public Platform? Platform { get; set; }

    /// <summary>
    /// A directory for temporary files (downloads, staging). <value>Default: null, the system temp directory.</value>
    /// </summary>
    public string? WorkDirectory { get; set; }

    /// <inheritdoc />
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        var strategies = Strategies ?? [];
        var duplicates = strategies.GroupBy(s => s).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        if (duplicates.Count > 0)
        {
            yield return new ValidationResult(
                $"Strategies lists {string.Join(", ", duplicates)} more than once.", [nameof(Strategies)]);
        }

        if (strategies.Any(s => s.Name.Length == 0))
        {
            yield return new ValidationResult("Strategies lists a strategy without a name.", [nameof(Strategies)]);
        }

        if (WorkDirectory is { Length: 0 })
        {
            yield return new ValidationResult("WorkDirectory must not be empty when set.", [nameof(WorkDirectory)]);
        }
    }
}

/// <summary>Validates <see cref="ImageAcceleratorOptions"/> (generated from its data annotations).</summary>
[OptionsValidator]
internal sealed partial class ImageAcceleratorOptionsValidator : IValidateOptions<ImageAcceleratorOptions>
{
}
