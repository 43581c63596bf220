using System.Text;
using Accelerator.P2P.Protocol;
using Accelerator.Testing.Fuzzing;

namespace Accelerator.P2P.Tests.Protocol;

/// <summary>The optional fields for expiring task tokens and eviction announcements: round trips, older shapes, bounds, fuzz.</summary>
public sealed class P2PProtocolTokenAndEvictionTests
{
    private static readonly string TaskId = P2PProtocolTests.Blob.Digest;

    private static TaskToken Token => new() { TaskId = TaskId, Token = "tok-2", ExpiresInMs = 1_800_000 };

    [Fact]
    public void Serialize_NewFields_RoundTrip()
    {
        RoundTrip(new RegisterTaskResponse { TaskId = TaskId, Token = "tok", Size = 200_000, PieceSize = 65536, PieceCount = 4, TokenExpiresInMs = 3_600_000 });
        RoundTrip(new ScheduleResponse { RetryAfterMs = 100, Token = Token });
        RoundTrip(new HeartbeatResponse { IntervalMs = 2000, Tokens = [Token, Token with { TaskId = Digest.Compute("other"u8).Value }] });
        RoundTrip(new PieceReportRequest { PeerId = "p", Results = [], Evicted = [0, 7, 1023] });
    }

    [Fact]
    public void TryParse_VersionOneShapes_DefaultsMeanNoExpiryNoRenewalNoEviction()
    {
        Assert.True(P2PProtocol.TryParse<RegisterTaskResponse>(Json($$"""{"taskId":"{{TaskId}}","token":"t","size":10,"pieceSize":65536,"pieceCount":1}"""), out var register, out string? error, P2PProtocol.MaxResponseBytes), error);
        Assert.Equal(0, register.TokenExpiresInMs);
        Assert.True(P2PProtocol.TryParse<ScheduleResponse>(Json("""{"pieces":[],"retryAfterMs":100}"""), out var schedule, out error, P2PProtocol.MaxResponseBytes), error);
        Assert.Null(schedule.Token);
        Assert.True(P2PProtocol.TryParse<HeartbeatResponse>(Json("""{"intervalMs":2000,"preheat":[]}"""), out var heartbeat, out error, P2PProtocol.MaxResponseBytes), error);
        Assert.Empty(heartbeat.Tokens);
        Assert.True(P2PProtocol.TryParse<PieceReportRequest>(Json("""{"peerId":"p","results":[]}"""), out var report, out error), error);
        Assert.Null(report.Evicted);

        // And an older party reading the newer shapes ignores the fields it does not know (as every party does).
        Assert.True(P2PProtocol.TryParse<LeaveRequest>(Json("""{"peerId":"p","evicted":[1],"tokens":[]}"""), out _, out error), error);
    }

    [Theory]
    [InlineData("""{"peerId":"p","results":[],"evicted":[-1]}""", "evicted piece out of range")]
    [InlineData("""{"peerId":"p","results":[],"evicted":[1048576]}""", "evicted piece out of range")]
    [InlineData("""{"peerId":"p","results":[],"evicted":[0,"x"]}""", "malformed JSON")]
    public void TryParse_BadEvicted_CleanError(string json, string expected)
    {
        Assert.False(P2PProtocol.TryParse<PieceReportRequest>(Json(json), out _, out string? error));
        Assert.StartsWith(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void TryParse_TooManyEvicted_CleanError()
    {
        string json = $$"""{"peerId":"p","results":[],"evicted":[{{string.Join(',', Enumerable.Range(0, P2PProtocol.MaxResultsPerReport + 1))}}]}""";
        Assert.False(P2PProtocol.TryParse<PieceReportRequest>(Json(json), out _, out string? error));
        Assert.Equal("too many evicted pieces", error);
    }

    [Theory]
    [InlineData("""{"pieces":[],"token":{"taskId":"nope","token":"t","expiresInMs":1}}""", "bad token taskId")]
    [InlineData("""{"pieces":[],"token":{"taskId":"TASK","token":"","expiresInMs":1}}""", "bad token")]
    [InlineData("""{"pieces":[],"token":{"taskId":"TASK","token":"t","expiresInMs":-5}}""", "token expiresInMs out of range")]
    [InlineData("""{"pieces":[],"token":{"taskId":"TASK","expiresInMs":5}}""", "malformed JSON")]
    public void TryParse_BadRenewedToken_CleanError(string json, string expected)
    {
        Assert.False(P2PProtocol.TryParse<ScheduleResponse>(Json(json.Replace("TASK", TaskId, StringComparison.Ordinal)), out _, out string? error, P2PProtocol.MaxResponseBytes));
        Assert.StartsWith(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void TryParse_BadHeartbeatTokensOrExpiry_CleanError()
    {
        Assert.False(P2PProtocol.TryParse<HeartbeatResponse>(Json("""{"intervalMs":2000,"tokens":null}"""), out _, out string? error, P2PProtocol.MaxResponseBytes));
        Assert.Equal("tokens missing or too many", error);
        Assert.False(P2PProtocol.TryParse<HeartbeatResponse>(Json($$"""{"intervalMs":2000,"tokens":[{"taskId":"{{TaskId}}","token":"{{new string('x', 257)}}"}]}"""), out _, out error, P2PProtocol.MaxResponseBytes));
        Assert.Equal("bad token", error);
        Assert.False(P2PProtocol.TryParse<RegisterTaskResponse>(Json($$"""{"taskId":"{{TaskId}}","token":"t","size":10,"pieceSize":65536,"pieceCount":1,"tokenExpiresInMs":-1}"""), out _, out error, P2PProtocol.MaxResponseBytes));
        Assert.Equal("tokenExpiresInMs out of range", error);
    }

    [Fact]
    public void TryParse_MutatedNewShapes_CleanErrorOrValidMessage()
    {
        var random = new Random(11);
        byte[][] seeds =
        [
            P2PProtocol.Serialize(new ScheduleResponse { RetryAfterMs = 5, Token = Token }),
            P2PProtocol.Serialize(new HeartbeatResponse { IntervalMs = 10, Tokens = [Token] }),
            P2PProtocol.Serialize(new PieceReportRequest { PeerId = "x", Results = [], Evicted = [1, 2, 3] }),
            P2PProtocol.Serialize(new RegisterTaskResponse { TaskId = TaskId, Token = "t", Size = 70_000, PieceSize = 65536, PieceCount = 2, TokenExpiresInMs = 5 }),
        ];
        for (int i = 0; i < 2000; i++)
        {
            int which = random.Next(seeds.Length);
            byte[] input = FuzzInput.Mutate(seeds[which], random);
            bool parsed = which switch
            {
                0 => Check<ScheduleResponse>(input),
                1 => Check<HeartbeatResponse>(input),
                2 => Check<PieceReportRequest>(input),
                _ => Check<RegisterTaskResponse>(input),
            };
            _ = parsed;
        }
    }

    private static bool Check<T>(byte[] input) where T : class
    {
        if (P2PProtocol.TryParse<T>(input, out var message, out string? error, P2PProtocol.MaxResponseBytes))
        {
            Assert.Null(error);
            Assert.NotNull(message);
            return true;
        }

        Assert.False(string.IsNullOrEmpty(error));
        return false;
    }

    private static byte[] Json(string json) => Encoding.UTF8.GetBytes(json);

    private static void RoundTrip<T>(T message) where T : class
    {
        byte[] json = P2PProtocol.Serialize(message);
        Assert.True(P2PProtocol.TryParse<T>(json, out var parsed, out string? error, P2PProtocol.MaxResponseBytes), error);
        Assert.Equal(Encoding.UTF8.GetString(json), Encoding.UTF8.GetString(P2PProtocol.Serialize(parsed)));
    }
}
