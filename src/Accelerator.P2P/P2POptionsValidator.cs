using Microsoft.Extensions.Options;

namespace Accelerator.P2P;

/// <summary>Validates <see cref="P2POptions"/> at start (generated from its rules).</summary>
[OptionsValidator]
public sealed partial class P2POptionsValidator : IValidateOptions<P2POptions>
{
}
