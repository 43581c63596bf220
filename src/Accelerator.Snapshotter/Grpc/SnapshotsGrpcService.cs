using Accelerator.Containerd.Api.Snapshots;
using Accelerator.Snapshotter.Filters;
using Accelerator.Snapshotter.Metadata;
using Accelerator.Snapshotter.Overlay;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using ApiMount = Accelerator.Containerd.Api.Types.Mount;

namespace Accelerator.Snapshotter.Grpc;

/// <summary>
/// containerd's <c>containerd.services.snapshots.v1.Snapshots</c> over <see cref="OverlaySnapshotter"/>: translates the
/// messages and turns each refusal into the one gRPC status containerd's <c>errdefs</c> understands (NotFound,
/// AlreadyExists, FailedPrecondition, InvalidArgument). The <c>snapshotter</c> field is ignored: a proxy plugin serves one.
/// </summary>
internal sealed class SnapshotsGrpcService(OverlaySnapshotter snapshotter) : Accelerator.Containerd.Api.Snapshots.Snapshots.SnapshotsBase
{
    /// <summary>How many infos one <c>List</c> message carries (containerd's service sends batches of 100 too).</summary>
    private const int ListBatch = 100;

    public override Task<PrepareSnapshotResponse> Prepare(PrepareSnapshotRequest request, ServerCallContext context) => Guard(async () =>
    {
        var response = new PrepareSnapshotResponse();
        response.Mounts.AddRange(ToApi(await snapshotter.PrepareAsync(request.Key, request.Parent, request.Labels, context.CancellationToken).ConfigureAwait(false)));
        return response;
    });

    public override Task<ViewSnapshotResponse> View(ViewSnapshotRequest request, ServerCallContext context) => Guard(async () =>
    {
        var response = new ViewSnapshotResponse();
        response.Mounts.AddRange(ToApi(await snapshotter.ViewAsync(request.Key, request.Parent, request.Labels, context.CancellationToken).ConfigureAwait(false)));
        return response;
    });

    public override Task<MountsResponse> Mounts(MountsRequest request, ServerCallContext context) => Guard(async () =>
    {
        var response = new MountsResponse();
        response.Mounts.AddRange(ToApi(await snapshotter.MountsAsync(request.Key, context.CancellationToken).ConfigureAwait(false)));
        return response;
    });

    public override Task<Empty> Commit(CommitSnapshotRequest request, ServerCallContext context) => Guard(async () =>
    {
        await snapshotter.CommitAsync(request.Name, request.Key, request.Labels, context.CancellationToken).ConfigureAwait(false);
        return new Empty();
    });

    public override Task<Empty> Remove(RemoveSnapshotRequest request, ServerCallContext context) => Guard(async () =>
    {
        await snapshotter.RemoveAsync(request.Key, context.CancellationToken).ConfigureAwait(false);
        return new Empty();
    });

    public override Task<StatSnapshotResponse> Stat(StatSnapshotRequest request, ServerCallContext context) => Guard(async () =>
        new StatSnapshotResponse { Info = ToApi(await snapshotter.StatAsync(request.Key, context.CancellationToken).ConfigureAwait(false)) });

    public override Task<UpdateSnapshotResponse> Update(UpdateSnapshotRequest request, ServerCallContext context) => Guard(async () =>
    {
        if (request.Info is not { } info)
        {
            throw SnapshotException.InvalidArgument("update: info is required");
        }

        var paths = request.UpdateMask?.Paths.ToList() ?? [];
        var updated = await snapshotter.UpdateAsync(info.Name, info.Labels, paths, context.CancellationToken).ConfigureAwait(false);
        return new UpdateSnapshotResponse { Info = ToApi(updated) };
    });

    public override Task List(ListSnapshotsRequest request, IServerStreamWriter<ListSnapshotsResponse> responseStream, ServerCallContext context) => Guard(async () =>
    {
        var filter = SnapshotFilter.Parse(request.Filters);
        var records = await snapshotter.ListAsync(filter, context.CancellationToken).ConfigureAwait(false);
        foreach (var batch in records.Chunk(ListBatch))
        {
            var response = new ListSnapshotsResponse();
            response.Info.AddRange(batch.Select(ToApi));
            await responseStream.WriteAsync(response, context.CancellationToken).ConfigureAwait(false);
        }

        return true;
    });

    public override Task<UsageResponse> Usage(UsageRequest request, ServerCallContext context) => Guard(async () =>
    {
        var usage = await snapshotter.UsageAsync(request.Key, context.CancellationToken).ConfigureAwait(false);
        return new UsageResponse { Size = usage.Size, Inodes = usage.Inodes };
    });

    public override Task<Empty> Cleanup(CleanupRequest request, ServerCallContext context) => Guard(async () =>
    {
        await snapshotter.CleanupAsync(context.CancellationToken).ConfigureAwait(false);
        return new Empty();
    });

    private static async Task<T> Guard<T>(Func<Task<T>> call)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (SnapshotException ex)
        {
            var code = ex.Error switch
            {
                SnapshotError.NotFound => StatusCode.NotFound,
                SnapshotError.AlreadyExists => StatusCode.AlreadyExists,
                SnapshotError.FailedPrecondition => StatusCode.FailedPrecondition,
                _ => StatusCode.InvalidArgument,
            };
            throw new RpcException(new Status(code, ex.Message));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A disk or permission problem on the node, not the client's fault: containerd reports it as is.
            throw new RpcException(new Status(StatusCode.Internal, ex.Message));
        }
    }

    private static IEnumerable<ApiMount> ToApi(IReadOnlyList<SnapshotMount> mounts) => mounts.Select(m =>
    {
        var mount = new ApiMount { Type = m.Type, Source = m.Source };
        mount.Options.AddRange(m.Options);
        return mount;
    });

    private static Info ToApi(SnapshotRecord record)
    {
        var info = new Info
        {
            Name = record.Name,
            Parent = record.Parent ?? "",
            Kind = record.Kind switch
            {
                SnapshotKind.Active => Kind.Active,
                SnapshotKind.Committed => Kind.Committed,
                _ => Kind.View,
            },
            CreatedAt = Timestamp.FromDateTimeOffset(record.Created),
            UpdatedAt = Timestamp.FromDateTimeOffset(record.Updated),
        };
        foreach (var (key, value) in record.Labels)
        {
            info.Labels[key] = value;
        }

        return info;
    }
}
