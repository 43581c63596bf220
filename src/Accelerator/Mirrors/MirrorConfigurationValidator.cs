using Accelerator.Oci.Mirrors;
using Microsoft.Extensions.Options;

namespace Accelerator.Mirrors;

/// <summary>
/// Validates <see cref="MirrorOptions"/> at start as a whole: annotations, keys and URLs, and the hosts directory
/// (a malformed hosts.toml fails the start with its file and line).
/// </summary>
internal sealed class MirrorConfigurationValidator : IValidateOptions<MirrorOptions>
{
    public ValidateOptionsResult Validate(string? name, MirrorOptions options)
    {
        try
        {
            MirrorConfiguration.Load(options);
            return ValidateOptionsResult.Success;
        }
        catch (OptionsValidationException ex)
        {
            return ValidateOptionsResult.Fail(ex.Failures);
        }
        catch (Exception ex) when (ex is FormatException or IOException or UnauthorizedAccessException)
        {
            return ValidateOptionsResult.Fail(ex.Message);
        }
    }
}
