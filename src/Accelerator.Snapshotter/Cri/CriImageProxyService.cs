using Accelerator.Containerd.Api.Cri;
using Accelerator.Oci.Registry;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Accelerator.Snapshotter.Cri;

/// <summary>
/// <c>runtime.v1.ImageService</c> in front of containerd's CRI plugin: every call is forwarded unchanged (fields this
/// build does not know included); a <c>PullImage</c> first offers its <c>AuthConfig</c> to the
/// <see cref="CriCredentialStore"/> for the image's registry and repository, and keeps it once the pull succeeded.
/// </summary>
internal sealed partial class CriImageProxyService(ImageService.ImageServiceClient upstream, CriCredentialStore credentials, ILogger<CriImageProxyService> logger)
    : ImageService.ImageServiceBase
{
    public override Task<ListImagesResponse> ListImages(ListImagesRequest request, ServerCallContext context)
        => upstream.ListImagesAsync(request, Forward(context)).ResponseAsync;

    public override Task<ImageStatusResponse> ImageStatus(ImageStatusRequest request, ServerCallContext context)
        => upstream.ImageStatusAsync(request, Forward(context)).ResponseAsync;

    public override Task<RemoveImageResponse> RemoveImage(RemoveImageRequest request, ServerCallContext context)
        => upstream.RemoveImageAsync(request, Forward(context)).ResponseAsync;

    public override Task<ImageFsInfoResponse> ImageFsInfo(ImageFsInfoRequest request, ServerCallContext context)
        => upstream.ImageFsInfoAsync(request, Forward(context)).ResponseAsync;

    public override async Task<PullImageResponse> PullImage(PullImageRequest request, ServerCallContext context)
    {
        using var offer = Capture(request);
        var response = await upstream.PullImageAsync(request, Forward(context)).ResponseAsync.ConfigureAwait(false);
        offer?.Complete();
        return response;
    }

    private CriCredentialStore.Offer? Capture(PullImageRequest request)
    {
        string image = request.Image?.Image ?? "";
        if (request.Auth is null)
        {
            return null;
        }

        // The same normalisation containerd applies ("app" is docker.io/library/app); a reference it cannot parse
        // fails there, with its own message.
        if (!ImageReference.TryParse(image, out var reference) || reference.Kind != ImageReferenceKind.Registry)
        {
            return null;
        }

        RegistryCredentials? given;
        try
        {
            given = CriAuth.Parse(request.Auth, reference.Registry);
        }
        catch (FormatException ex)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"PullImage of {reference}: invalid auth: {ex.Message}"));
        }

        if (given is null)
        {
            LogNoCredential(logger, reference.Registry, reference.Repository);
            return null;
        }

        LogOffered(logger, reference.Registry, reference.Repository, CriAuth.Describe(given));
        return credentials.Give(reference.Registry, reference.Repository, given, reference.ToString());
    }

    // kubelet's deadline and cancellation reach containerd; its metadata does not (nothing in it is for containerd).
    private static CallOptions Forward(ServerCallContext context)
        => new(deadline: context.Deadline == DateTime.MaxValue ? null : context.Deadline, cancellationToken: context.CancellationToken);

    [LoggerMessage(EventId = 10, Level = LogLevel.Debug, Message = "CRI pull from {Registry}/{Repository} with {Kind}; offered to lazy reads while it runs.")]
    private static partial void LogOffered(ILogger logger, string registry, string repository, string kind);

    [LoggerMessage(EventId = 11, Level = LogLevel.Debug, Message = "CRI pull from {Registry}/{Repository} carries no credential for that registry.")]
    private static partial void LogNoCredential(ILogger logger, string registry, string repository);
}
