using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Accelerator.Fuse.Takeover;

/// <summary>Options of a <see cref="FuseHolder"/>. Checked by <see cref="FuseHolderOptionsValidator"/>.</summary>
public sealed class FuseHolderOptions : IValidatableObject
{
    /// <summary>
    /// The holder's directory: created 0700 (an existing one is made private; one owned by another user is refused);
    /// it holds <c>holder.sock</c> (0600) and <c>holder.lock</c>.
    /// </summary>
    /// <value>Required.</value>
    [Required]
    public string Directory { get; set; } = string.Empty;

    /// <summary>How long the holder stays once it holds nothing and no client is connected; then it exits.</summary>
    /// <value>Default 10 seconds.</value>
    public TimeSpan IdleExit { get; set; } = TimeSpan.FromSeconds(10);

    /// <inheritdoc />
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (IdleExit < TimeSpan.Zero || IdleExit > TimeSpan.FromDays(1))
        {
            yield return new ValidationResult($"{nameof(IdleExit)} must be between 0 and one day.");
        }

        // sockaddr_un.sun_path holds 108 bytes with its NUL.
        if (!string.IsNullOrEmpty(Directory) && System.Text.Encoding.UTF8.GetByteCount(Path.Combine(Path.GetFullPath(Directory), FuseHolder.SocketName)) > 107)
        {
            yield return new ValidationResult($"{nameof(Directory)} is too long for a unix socket path (at most 107 bytes with '/{FuseHolder.SocketName}').");
        }
    }
}

/// <summary>Validates <see cref="FuseHolderOptions"/> (generated from its data annotations and rules).</summary>
[OptionsValidator]
public sealed partial class FuseHolderOptionsValidator : IValidateOptions<FuseHolderOptions>
{
}
