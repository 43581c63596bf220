using Accelerator.P2P.Protocol;
using Accelerator.Testing.Registry;
using Microsoft.AspNetCore.Http;

namespace Accelerator.P2P.Tests.Infrastructure;

/// <summary>
/// A peer that lies, speaking the real protocols: it registers for a task at the scheduler and either claims to hold
/// every piece (with many free upload slots, so it scores well) and serves random bytes of the right length, or
/// (<see cref="StartAsSourceAsync"/>) takes the back-to-source leases and records digests of bytes it made up, which it
/// then serves consistently: every piece checks out, only the blob digest does not.
/// </summary>
internal sealed class LyingPeer : IAsyncDisposable
{
    public const string Id = "liar";

    private readonly LoopbackHttpServer _server;
    private long _served;

    private LyingPeer(LoopbackHttpServer server) => _server = server;

    public long PiecesServed => Interlocked.Read(ref _served);

    public static Task<LyingPeer> StartAsync(Uri scheduler, string registry, BlobAddress blob) => StartAsync(scheduler, registry, blob, asSource: false);

    public static Task<LyingPeer> StartAsSourceAsync(Uri scheduler, string registry, BlobAddress blob) => StartAsync(scheduler, registry, blob, asSource: true);

    /// <summary>A parent that claims every piece and answers each piece request with a redirect to <paramref name="target"/>.</summary>
    public static Task<LyingPeer> StartRedirectingAsync(Uri scheduler, string registry, BlobAddress blob, Uri target) => StartAsync(scheduler, registry, blob, asSource: false, redirectTo: target);

    private static byte[] MadeUp(int index, int length)
    {
        byte[] bytes = new byte[length];
        new Random(1000 + index).NextBytes(bytes);
        return bytes;
    }

    private static async Task<LyingPeer> StartAsync(Uri scheduler, string registry, BlobAddress blob, bool asSource, Uri? redirectTo = null)
    {
        LyingPeer? peer = null;
        var server = await LoopbackHttpServer.StartAsync(async context =>
        {
            if (!P2PProtocol.TryParsePiecePath(context.Request.Path.Value, out _, out int index))
            {
                context.Response.StatusCode = 404;
                return;
            }

            Interlocked.Increment(ref peer!._served);
            if (redirectTo is not null)
            {
                context.Response.StatusCode = StatusCodes.Status307TemporaryRedirect;
                context.Response.Headers.Location = new Uri(redirectTo, context.Request.Path.Value!.TrimStart('/')).AbsoluteUri;
                return;
            }

            int length = (int)Math.Min(P2PCluster.TestPieceSize, blob.Size - ((long)index * P2PCluster.TestPieceSize));
            byte[] garbage = MadeUp(index, length);
            if (!asSource)
            {
                Random.Shared.NextBytes(garbage);
            }

            context.Response.ContentLength = length;
            await context.Response.Body.WriteAsync(garbage);
        });
        peer = new LyingPeer(server);
        using var http = new HttpClient { BaseAddress = scheduler };
        var self = new PeerInfo { PeerId = Id, Url = server.Url.AbsoluteUri, UploadSlots = 1000 };
        var register = await PostAsync(http, P2PProtocol.RegisterPath, P2PProtocol.Serialize(new RegisterTaskRequest
        {
            Peer = self,
            Blob = new BlobRef { Registry = registry, Repository = blob.Repository, Digest = blob.Digest.Value },
        }));
        var task = P2PProtocol.Parse<RegisterTaskResponse>(register, P2PProtocol.MaxResponseBytes);
        // Lying about pieces, not about who it is: it carries the secret the scheduler issued it.
        http.DefaultRequestHeaders.Add(P2PProtocol.PeerSecretHeader, task.PeerSecret);
        var claims = Enumerable.Range(0, task.PieceCount).Select(i => new PieceResult { Index = i, Success = true }).ToArray();
        if (asSource)
        {
            var schedule = await PostAsync(http, P2PProtocol.TaskPath(blob.Digest, "schedule"), P2PProtocol.Serialize(new ScheduleRequest { PeerId = Id, MaxPieces = task.PieceCount }));
            var assigned = P2PProtocol.Parse<ScheduleResponse>(schedule, P2PProtocol.MaxResponseBytes);
            claims = [.. assigned.Pieces.Where(p => p.FromOrigin).Select(p => new PieceResult
            {
                Index = p.Index,
                Success = true,
                Digest = Digest.Compute(MadeUp(p.Index, (int)Math.Min(task.PieceSize, task.Size - ((long)p.Index * task.PieceSize)))).Value,
            })];
        }

        await PostAsync(http, P2PProtocol.TaskPath(blob.Digest, "reports"), P2PProtocol.Serialize(new PieceReportRequest { PeerId = Id, Results = claims }));
        return peer;
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    private static async Task<byte[]> PostAsync(HttpClient http, string path, byte[] body)
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new("application/json");
        using var response = await http.PostAsync(path.TrimStart('/'), content);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsByteArrayAsync();
    }
}
