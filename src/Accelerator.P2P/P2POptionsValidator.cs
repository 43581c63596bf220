using Microsoft.Extensions.Options;

namespace Accelerator.P2P;

/// <summary>Validates <see cref="P2POptions"/> at start.</summary>
internal sealed class P2POptionsValidator : IValidateOptions<P2POptions>
{
    public ValidateOptionsResult Validate(string? name, P2POptions options)
        => options.GetProblems() is { Count: > 0 } problems ? ValidateOptionsResult.Fail(problems) : ValidateOptionsResult.Success;
}
