using System.Text;
using Accelerator.P2P.Protocol;

namespace Accelerator.P2P.Tests.Protocol;

public sealed class P2PProtocolTests
{
    private static readonly Digest Task = Digest.Compute("task"u8);

    internal static PeerInfo Peer => new() { PeerId = "peer-1", Url = "http://127.0.0.1:7000/", Seed = true, UploadSlots = 8, Locality = new() { Host = "h", Rack = "r", Zone = "z" } };

    internal static BlobRef Blob => new() { Registry = "registry.example:5000", Repository = "library/nginx", Digest = Task.Value, Size = 123 };

    [Fact]
    public void Serialize_EveryMessage_RoundTrips()
    {
        RoundTrip(new HeartbeatRequest { Peer = Peer, FreeUploadSlots = 3 });
        RoundTrip(new HeartbeatResponse { IntervalMs = 2000, Preheat = [Blob] });
        RoundTrip(new LeaveRequest { PeerId = "peer-1" });
        RoundTrip(new RegisterTaskRequest { Peer = Peer, Blob = Blob, Credential = new() { Username = "u", Password = "p" } });
        RoundTrip(new RegisterTaskResponse { TaskId = Task.Value, Token = "tok", Size = 200_000, PieceSize = 65536, PieceCount = 4 });
        RoundTrip(new ScheduleRequest { PeerId = "peer-1", MaxPieces = 4, Wanted = [1, 2] });
        RoundTrip(new ScheduleResponse
        {
            Pieces =
            [
                new PieceAssignment { Index = 0, FromOrigin = true },
                new PieceAssignment { Index = 1, Digest = Task.Value, Parents = [new ParentRef { PeerId = "p2", Url = "http://10.0.0.2:7000/" }] },
            ],
            RetryAfterMs = 0,
        });
        RoundTrip(new PieceReportRequest { PeerId = "peer-1", BlobVerified = true, Results = [new PieceResult { Index = 1, Success = true, Digest = Task.Value }, new PieceResult { Index = 2, ParentId = "p2", Failure = PieceFailure.Corrupt, DurationMs = 5 }] });
        RoundTrip(new TaskCompleteRequest { PeerId = "peer-1", Verified = true });
        RoundTrip(new PreheatRequest { Image = "registry.example:5000/library/nginx:1.27", Platform = "linux/amd64" });
        RoundTrip(new PreheatResponse { Blobs = [Blob], SeedPeers = 2 });
        RoundTrip(new ErrorResponse { Error = "nope" });
    }

    [Fact]
    public void Serialize_Enums_AreStringsAndNamesCamelCase()
    {
        string json = Encoding.UTF8.GetString(P2PProtocol.Serialize(new PieceReportRequest { PeerId = "p", Results = [new PieceResult { Index = 0, ParentId = "q", Failure = PieceFailure.Slow }] }));
        Assert.Contains("\"failure\":\"Slow\"", json, StringComparison.Ordinal);
        Assert.Contains("\"peerId\":\"p\"", json, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"peerId":"bad id"}""", "bad peerId")]
    [InlineData("""{"peerId":""}""", "bad peerId")]
    [InlineData("""{}""", "malformed JSON")]
    [InlineData("""{"peerId":"a","peerId":"b"}""", "malformed JSON")]
    [InlineData("""[]""", "malformed JSON")]
    [InlineData("""null""", "message is null")]
    public void TryParse_BadLeave_CleanError(string json, string expected)
    {
        Assert.False(P2PProtocol.TryParse<LeaveRequest>(Encoding.UTF8.GetBytes(json), out var message, out string? error));
        Assert.Null(message);
        Assert.StartsWith(expected, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"peerId":"a","maxPieces":0}""", "maxPieces out of range")]
    [InlineData("""{"peerId":"a","maxPieces":5000}""", "maxPieces out of range")]
    [InlineData("""{"peerId":"a","maxPieces":1,"wanted":[-1]}""", "wanted piece out of range")]
    [InlineData("""{"peerId":"a","maxPieces":1,"wanted":[1048576]}""", "wanted piece out of range")]
    public void TryParse_ScheduleOutOfBounds_CleanError(string json, string expected)
    {
        Assert.False(P2PProtocol.TryParse<ScheduleRequest>(Encoding.UTF8.GetBytes(json), out _, out string? error));
        Assert.Equal(expected, error);
    }

    [Fact]
    public void TryParse_MissingOptionalFields_TakeTheirDocumentedDefaults()
    {
        Assert.True(P2PProtocol.TryParse<ScheduleRequest>("""{"peerId":"a"}"""u8, out var schedule, out _));
        Assert.Equal(1, schedule.MaxPieces);
        Assert.True(P2PProtocol.TryParse<LeaveRequest>("""{"peerId":"a","unknown":[1,{"x":2}]}"""u8, out _, out _));
        string json = $$$"""{"peer":{"peerId":"a","url":"http://127.0.0.1:1/"},"blob":{"registry":"r","repository":"a","digest":"{{{Task}}}"}}""";
        Assert.True(P2PProtocol.TryParse<RegisterTaskRequest>(Encoding.UTF8.GetBytes(json), out var register, out string? error), error);
        Assert.Equal(-1, register.Blob.Size);
        Assert.True(P2PProtocol.TryParse<ScheduleResponse>("""{"pieces":[{"index":3,"fromOrigin":true}]}"""u8, out var answer, out error), error);
        Assert.Empty(answer.Pieces[0].Parents);
    }

    [Fact]
    public void TryParse_Oversized_RefusedBeforeParsing()
    {
        byte[] big = new byte[P2PProtocol.MaxRequestBytes + 1];
        Assert.False(P2PProtocol.TryParse<LeaveRequest>(big, out _, out string? error));
        Assert.Contains("limit", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http://127.0.0.1:1/", true)]
    [InlineData("https://peer.example/p2p/", true)]
    [InlineData("ftp://peer.example/", false)]
    [InlineData("http://user:pw@peer.example/", false)]
    [InlineData("http://peer.example/?q=1", false)]
    [InlineData("/relative", false)]
    public void IsValidPeerUrl_Cases(string url, bool valid) => Assert.Equal(valid, P2PProtocol.IsValidPeerUrl(url));

    [Fact]
    public void RegisterRequest_BadBlob_Refused()
    {
        var bad = new[]
        {
            Blob with { Registry = "a/b" },
            Blob with { Repository = "Upper/case" },
            Blob with { Repository = "a//b" },
            Blob with { Repository = "../x" },
            Blob with { Digest = "sha256:nothex" },
            Blob with { Size = -2 },
        };
        foreach (var blob in bad)
        {
            byte[] json = P2PProtocol.Serialize(new RegisterTaskRequest { Peer = Peer, Blob = blob });
            Assert.False(P2PProtocol.TryParse<RegisterTaskRequest>(json, out _, out _), blob.ToString());
        }
    }

    [Fact]
    public void ScheduleResponse_InconsistentAssignments_Refused()
    {
        var parent = new ParentRef { PeerId = "p", Url = "http://127.0.0.1:1/" };
        foreach (var piece in new[]
        {
            new PieceAssignment { Index = 0, FromOrigin = true, Parents = [parent] },
            new PieceAssignment { Index = 0, Parents = [parent] },
            new PieceAssignment { Index = 0, Digest = Task.Value },
            new PieceAssignment { Index = -1, FromOrigin = true },
        })
        {
            byte[] json = P2PProtocol.Serialize(new ScheduleResponse { Pieces = [piece] });
            Assert.False(P2PProtocol.TryParse<ScheduleResponse>(json, out _, out _, P2PProtocol.MaxResponseBytes));
        }
    }

    [Fact]
    public void RegisterResponse_GeometryMustAgree()
    {
        byte[] json = P2PProtocol.Serialize(new RegisterTaskResponse { TaskId = Task.Value, Token = "t", Size = 200_000, PieceSize = 65536, PieceCount = 3 });
        Assert.False(P2PProtocol.TryParse<RegisterTaskResponse>(json, out _, out string? error, P2PProtocol.MaxResponseBytes));
        Assert.Equal("size and pieceCount disagree", error);
    }

    [Fact]
    public void TryParsePiecePath_Valid()
    {
        Assert.True(P2PProtocol.TryParsePiecePath(P2PProtocol.PiecePath(Task, 17), out var task, out int index));
        Assert.Equal(Task, task);
        Assert.Equal(17, index);
    }

    [Theory]
    [InlineData("/p2p/v1/tasks/sha256:abc/pieces/0")]
    [InlineData("/p2p/v1/tasks//pieces/0")]
    [InlineData("/p2p/v1/tasks/{0}/pieces/")]
    [InlineData("/p2p/v1/tasks/{0}/pieces/01")]
    [InlineData("/p2p/v1/tasks/{0}/pieces/-1")]
    [InlineData("/p2p/v1/tasks/{0}/pieces/+1")]
    [InlineData("/p2p/v1/tasks/{0}/pieces/1048576")]
    [InlineData("/p2p/v1/tasks/{0}/pieces/1 ")]
    [InlineData("/p2p/v1/tasks/{0}/piece/1")]
    [InlineData("/p2p/v1/tasks/{0}/pieces/1/extra")]
    public void TryParsePiecePath_Invalid(string template)
    {
        Assert.False(P2PProtocol.TryParsePiecePath(template.Replace("{0}", Task.Value, StringComparison.Ordinal), out _, out _));
    }

    [Theory]
    [InlineData("schedule", true)]
    [InlineData("reports", true)]
    [InlineData("complete", true)]
    [InlineData("delete", false)]
    [InlineData("schedule/", false)]
    public void TryParseTaskPath_Actions(string action, bool valid)
    {
        Assert.Equal(valid, P2PProtocol.TryParseTaskPath($"/api/v1/tasks/{Task}/{action}", out var task, out string? parsed));
        if (valid)
        {
            Assert.Equal(Task, task);
            Assert.Equal(action, parsed);
        }
    }

    private static void RoundTrip<T>(T message) where T : class
    {
        byte[] json = P2PProtocol.Serialize(message);
        Assert.True(P2PProtocol.TryParse<T>(json, out var parsed, out string? error, P2PProtocol.MaxResponseBytes), error);
        Assert.Equal(Encoding.UTF8.GetString(json), Encoding.UTF8.GetString(P2PProtocol.Serialize(parsed)));
    }
}
