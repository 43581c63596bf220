using System.ComponentModel.DataAnnotations;

namespace Accelerator.Containerd.Pulling;

/// <summary>Where and how <see cref="ContainerdImagePuller"/> pulls an image into containerd.</summary>
public sealed class ContainerdPullOptions
{
    /// <summary>The containerd namespace the image is created in.</summary>
    /// <value>Default <c>default</c> (ctr's; the CRI plugin uses <c>k8s.io</c>).</value>
    [Required]
    [RegularExpression("^[A-Za-z0-9]([A-Za-z0-9._-]{0,74}[A-Za-z0-9])?$", ErrorMessage = "The namespace must be letters, digits, '.', '_' or '-' (at most 76), as containerd requires.")]
    public string Namespace { get; set; } = "default";

    /// <summary>The snapshotter containerd unpacks into (a proxy plugin's name, e.g. <c>accel</c>, or <c>overlayfs</c>).</summary>
    /// <value>Default <c>accel</c>.</value>
    [Required]
    [StringLength(256, MinimumLength = 1)]
    public string Snapshotter { get; set; } = "accel";

    /// <summary>The platform to select from a multi-platform image.</summary>
    /// <value>Default null: this machine's.</value>
    public Platform? Platform { get; set; }

    /// <summary>How long the pull's lease keeps what it wrote should the pull die before releasing it.</summary>
    /// <value>Default 24 hours (as ctr).</value>
    [Range(typeof(TimeSpan), "00:01:00", "7.00:00:00")]
    public TimeSpan LeaseExpiry { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Told about each layer when it is done, lowest first.</summary>
    public IProgress<ContainerdPulledLayer>? Progress { get; set; }

    /// <summary>The time source (lease expiry, elapsed time).</summary>
    /// <value>Default <see cref="TimeProvider.System"/>.</value>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;
}

/// <summary>Validates <see cref="ContainerdPullOptions"/> from its DataAnnotations.</summary>
[Microsoft.Extensions.Options.OptionsValidator]
public sealed partial class ContainerdPullOptionsValidator : Microsoft.Extensions.Options.IValidateOptions<ContainerdPullOptions>;
