using System.Net;
using System.Text;
using Accelerator.Oci.Registry;
using Accelerator.P2P.Protocol;
using Accelerator.P2P.Scheduling;
using Accelerator.P2P.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace Accelerator.P2P.Tests.Scheduling;

/// <summary>
/// Long-polled scheduling over real HTTP. The scheduler runs on a frozen clock, so neither its periodic re-check nor
/// the end of the wait can fire: a held request that answers did so because something about the task changed.
/// </summary>
public sealed class LongPollTests : IAsyncDisposable
{
    private const string Repository = "long/poll";
    private readonly FakeTimeProvider _time = new();
    private readonly HttpClient _http = new();
    private readonly Dictionary<string, string> _secrets = [];
    private CountingRegistry _registry = null!;
    private P2PSchedulerServer _scheduler = null!;
    private BlobAddress _blob;
    private byte[] _content = [];

    [Fact]
    public async Task Schedule_WaitMsAndAPieceAppears_AnswersWithThatPieceWithoutWaitingOut()
    {
        await StartAsync();
        await RegisterAsync("source");
        await RegisterAsync("child");
        var lease = await ScheduleAsync(new ScheduleRequest { PeerId = "source", Wanted = [0] });
        Assert.True(Assert.Single(lease.Pieces).FromOrigin);

        // Piece 0 is leased back-to-source to "source": nothing to give "child" yet, so its request is held.
        var held = ScheduleAsync(new ScheduleRequest { PeerId = "child", Wanted = [0], WaitMs = P2PProtocol.MaxScheduleWaitMs });
        await PostAsync(P2PProtocol.TaskPath(_blob.Digest, "reports"), new PieceReportRequest
        {
            PeerId = "source",
            Results = [new PieceResult { Index = 0, Success = true, Digest = Digest.Compute(_content.AsSpan(0, P2PCluster.TestPieceSize)).Value }],
        }, "source");
        var answer = await held.WaitAsync(TimeSpan.FromMinutes(1));

        var piece = Assert.Single(answer.Pieces);
        Assert.Equal(0, piece.Index);
        Assert.False(piece.FromOrigin);
        Assert.Equal("source", Assert.Single(piece.Parents).PeerId);
        Assert.True(answer.LongPolled);
        Assert.Contains("accel_p2p_scheduler_long_polls_total 1", _scheduler.Service.FormatMetrics(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Schedule_OldPeerWithoutWaitMs_AnsweredAtOnceWithRetryAfter()
    {
        await StartAsync();
        await RegisterAsync("source");
        await RegisterAsync("old");
        await ScheduleAsync(new ScheduleRequest { PeerId = "source", Wanted = [0] });

        // The JSON an older peer sends: no waitMs. Nothing can be assigned, and the answer comes at once (the clock is frozen).
        string body = await PostAsync(P2PProtocol.TaskPath(_blob.Digest, "schedule"), Encoding.UTF8.GetBytes("{\"peerId\":\"old\",\"maxPieces\":1,\"wanted\":[0]}"), "old");
        var answer = P2PProtocol.Parse<ScheduleResponse>(Encoding.UTF8.GetBytes(body));

        Assert.Empty(answer.Pieces);
        Assert.True(answer.RetryAfterMs > 0);
        Assert.False(answer.LongPolled);
        Assert.Contains("accel_p2p_scheduler_long_polls_total 0", _scheduler.Service.FormatMetrics(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Schedule_HeldRequestAndThePeerHoldingTheLeaseLeaves_AnswersWithTheFreedPiece()
    {
        await StartAsync();
        await RegisterAsync("source");
        await RegisterAsync("child");
        await ScheduleAsync(new ScheduleRequest { PeerId = "source", Wanted = [1] });

        var held = ScheduleAsync(new ScheduleRequest { PeerId = "child", Wanted = [1], WaitMs = P2PProtocol.MaxScheduleWaitMs });
        await PostAsync(P2PProtocol.LeavePath, new LeaveRequest { PeerId = "source" }, "source");
        var answer = await held.WaitAsync(TimeSpan.FromMinutes(1));

        // The lease went with the peer: the child is now the one to fetch the piece from the registry.
        Assert.True(Assert.Single(answer.Pieces).FromOrigin);
        Assert.True(answer.LongPolled);
    }

    [Fact]
    public async Task Schedule_WaitMsOutOfRange_Refused()
    {
        await StartAsync();
        await RegisterAsync("p");
        using var content = new ByteArrayContent(P2PProtocol.Serialize(new ScheduleRequest { PeerId = "p", WaitMs = P2PProtocol.MaxScheduleWaitMs + 1 }));
        content.Headers.ContentType = new("application/json");

        using var response = await _http.PostAsync(new Uri(_scheduler.Url, P2PProtocol.TaskPath(_blob.Digest, "schedule")), content);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("waitMs out of range", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        if (_scheduler is not null)
        {
            await _scheduler.DisposeAsync();
        }

        if (_registry is not null)
        {
            await _registry.DisposeAsync();
        }
    }

    private async Task StartAsync()
    {
        _registry = await CountingRegistry.StartAsync();
        _content = P2PCluster.MakeContent(3 * P2PCluster.TestPieceSize, 21);
        _blob = _registry.Put(Repository, _content);
        _scheduler = await P2PSchedulerServer.StartAsync(
            new P2PSchedulerServerOptions
            {
                Scheduler = new P2PSchedulerOptions { PieceSize = P2PCluster.TestPieceSize, TokenKey = P2PCluster.SharedTokenKey },
                Registry = new RegistryOptions { PlainHttp = true, MaxRetries = 0 },
                TrustedRegistries = { _registry.Host },
            },
            time: _time);
    }

    private async Task RegisterAsync(string peer)
    {
        string body = await PostAsync(P2PProtocol.RegisterPath, new RegisterTaskRequest
        {
            Peer = new PeerInfo { PeerId = peer, Url = "http://127.0.0.1:9/", UploadSlots = 4 },
            Blob = new BlobRef { Registry = _registry.Host, Repository = Repository, Digest = _blob.Digest.Value },
        });
        var answer = P2PProtocol.Parse<RegisterTaskResponse>(Encoding.UTF8.GetBytes(body));
        Assert.Equal(_blob.Digest.Value, answer.TaskId);
        _secrets[peer] = answer.PeerSecret!;
    }

    private async Task<ScheduleResponse> ScheduleAsync(ScheduleRequest request)
        => P2PProtocol.Parse<ScheduleResponse>(Encoding.UTF8.GetBytes(await PostAsync(P2PProtocol.TaskPath(_blob.Digest, "schedule"), request, request.PeerId)));

    private Task<string> PostAsync<T>(string path, T message, string? peer = null) where T : class => PostAsync(path, P2PProtocol.Serialize(message), peer);

    private async Task<string> PostAsync(string path, byte[] body, string? peer = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_scheduler.Url, path)) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new("application/json");
        if (peer is not null)
        {
            request.Headers.Add(P2PProtocol.PeerSecretHeader, _secrets[peer]);
        }

        using var response = await _http.SendAsync(request);
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{path}: {(int)response.StatusCode} {text}");
        return text;
    }
}
