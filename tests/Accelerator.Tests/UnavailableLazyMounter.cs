namespace Accelerator.Tests;

/// <summary>A lazy mounter that finds no lazy artifact for any image, so the facade must fall back.</summary>
internal sealed class UnavailableLazyMounter : IImageMounter
{
    public const string Reason = "no lazy artifact";

    public Strategy Strategy => Strategy.Lazy;

    public ValueTask<(bool CanMount, string? Reason)> CanMountAsync(ImageReference image, CancellationToken cancellationToken = default)
        => ValueTask.FromResult<(bool, string?)>((false, Reason));

    public Task<IMountedImage> MountAsync(ImageReference image, string mountPoint, MountOptions options, CancellationToken cancellationToken = default)
        => throw new InvalidOperationException("must not be called");
}
