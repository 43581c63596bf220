using Accelerator.Oci.Registry;
using Microsoft.Extensions.Options;

namespace Accelerator.Registries;

/// <summary>
/// Validates <see cref="RegistryOptions"/> at start with every rule the registry client applies — the data
/// annotations and the host keys and credentials — so a bad host key fails the build, not the first pull.
/// </summary>
internal sealed class RegistryOptionsStartupValidator : IValidateOptions<RegistryOptions>
{
    public ValidateOptionsResult Validate(string? name, RegistryOptions options)
    {
        try
        {
            RegistryOptionsValidator.ThrowIfInvalid(options);
            return ValidateOptionsResult.Success;
        }
        catch (OptionsValidationException invalid)
        {
            return ValidateOptionsResult.Fail(invalid.Failures);
        }
    }
}
