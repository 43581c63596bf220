using System.Runtime.InteropServices;

namespace Accelerator;

/// <summary>
/// A platform an image runs on (OCI image specification, image-index.md "platform"): os, architecture, variant.
/// </summary>
/// <param name="OS">Operating system, e.g. <c>linux</c>.</param>
/// <param name="Architecture">CPU architecture in GOARCH terms, e.g. <c>amd64</c>, <c>arm64</c>.</param>
/// <param name="Variant">CPU variant, e.g. <c>v8</c> for arm64 or <c>v7</c> for arm; may be null.</param>
public sealed record Platform(string OS, string Architecture, string? Variant = null)
{
    /// <summary>The OS version (Windows images).</summary>
    public string? OSVersion { get; init; }

    /// <summary>Required OS features (Windows images).</summary>
    public IReadOnlyList<string>? OSFeatures { get; init; }

    /// <summary>linux/amd64.</summary>
    public static Platform LinuxAmd64 { get; } = new("linux", "amd64");

    /// <summary>linux/arm64.</summary>
    public static Platform LinuxArm64 { get; } = new("linux", "arm64", "v8");

    /// <summary>The platform this process runs on (as linux, since images are Linux images).</summary>
    public static Platform Current { get; } = new("linux", RuntimeInformation.OSArchitecture switch
    {
        System.Runtime.InteropServices.Architecture.X64 => "amd64",
        System.Runtime.InteropServices.Architecture.Arm64 => "arm64",
        System.Runtime.InteropServices.Architecture.X86 => "386",
        System.Runtime.InteropServices.Architecture.Arm => "arm",
        System.Runtime.InteropServices.Architecture.S390x => "s390x",
        System.Runtime.InteropServices.Architecture.Ppc64le => "ppc64le",
        System.Runtime.InteropServices.Architecture.RiscV64 => "riscv64",
        System.Runtime.InteropServices.Architecture.LoongArch64 => "loong64",
        _ => RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant(),
    }, RuntimeInformation.OSArchitecture == System.Runtime.InteropServices.Architecture.Arm64 ? "v8" : null);

    /// <summary>Parses <c>os/arch[/variant]</c>, e.g. <c>linux/arm64/v8</c>.</summary>
    public static Platform Parse(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        string[] parts = value.Split('/');
        if (parts.Length is < 2 or > 3 || parts.Any(p => p.Length == 0 || p.Any(char.IsWhiteSpace)))
        {
            throw new FormatException($"Invalid platform '{value}': expected os/architecture[/variant].");
        }

        return new Platform(parts[0].ToLowerInvariant(), parts[1].ToLowerInvariant(), parts.Length == 3 ? parts[2].ToLowerInvariant() : null);
    }

    /// <summary>
    /// Normalizes names the way containerd's platforms package does: <c>x86_64</c> → <c>amd64</c>, <c>aarch64</c> →
    /// <c>arm64</c>, arm64's default variant <c>v8</c>, arm's default <c>v7</c>.
    /// </summary>
    public Platform Normalize()
    {
        string os = OS.ToLowerInvariant();
        string arch = Architecture.ToLowerInvariant();
        string? variant = Variant?.ToLowerInvariant();
        switch (arch)
        {
            case "x86_64" or "x86-64":
                arch = "amd64";
                break;
            case "aarch64" or "arm64":
                arch = "arm64";
                variant = variant is null or "8" or "v8" ? "v8" : variant;
                break;
            case "armhf":
                arch = "arm";
                variant = "v7";
                break;
            case "armel":
                arch = "arm";
                variant = "v6";
                break;
            case "arm":
                variant = variant is null or "7" or "v7" ? "v7" : variant.StartsWith('v') ? variant : "v" + variant;
                break;
            case "i386" or "i686":
                arch = "386";
                break;
        }

        return this with { OS = os, Architecture = arch, Variant = variant };
    }

    /// <summary>
    /// Whether an image built for <paramref name="candidate"/> runs on this platform: same OS and architecture after
    /// normalization, and the same variant (a candidate without variant matches any).
    /// </summary>
    public bool Matches(Platform candidate)
    {
        var want = Normalize();
        var have = candidate.Normalize();
        if (want.OS != have.OS || want.Architecture != have.Architecture)
        {
            return false;
        }

        return candidate.Variant is null || want.Variant is null || want.Variant == have.Variant;
    }

    /// <summary>Value equality, comparing <see cref="OSFeatures"/> element by element.</summary>
    public bool Equals(Platform? other)
        => other is not null
            && OS == other.OS
            && Architecture == other.Architecture
            && Variant == other.Variant
            && OSVersion == other.OSVersion
            && (OSFeatures ?? []).SequenceEqual(other.OSFeatures ?? []);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(OS, Architecture, Variant, OSVersion, OSFeatures?.Count ?? 0);

    /// <inheritdoc />
    public override string ToString() => Variant is null ? $"{OS}/{Architecture}" : $"{OS}/{Architecture}/{Variant}";
}
