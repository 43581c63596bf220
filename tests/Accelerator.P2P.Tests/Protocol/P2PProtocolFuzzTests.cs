using Accelerator.P2P.Protocol;
using Accelerator.Testing.Fuzzing;

namespace Accelerator.P2P.Tests.Protocol;

/// <summary>Random and mutated inputs for every message parser and the path parsers: a clean error or a valid message.</summary>
public sealed class P2PProtocolFuzzTests
{
    private const int Iterations = 3000;

    [Fact]
    public void TryParse_MutatedMessages_CleanErrorOrValidMessage()
    {
        var random = new Random(5);
        var seeds = new (byte[] Seed, Func<byte[], bool> Parse)[]
        {
            Seed(new HeartbeatRequest { Peer = P2PProtocolTests.Peer, FreeUploadSlots = 2 }),
            Seed(new HeartbeatResponse { IntervalMs = 10, Preheat = [P2PProtocolTests.Blob] }),
            Seed(new LeaveRequest { PeerId = "x" }),
            Seed(new RegisterTaskRequest { Peer = P2PProtocolTests.Peer, Blob = P2PProtocolTests.Blob, Credential = new() { Username = "u", Password = "p" } }),
            Seed(new RegisterTaskResponse { TaskId = P2PProtocolTests.Blob.Digest, Token = "t", Size = 70_000, PieceSize = 65536, PieceCount = 2 }),
            Seed(new ScheduleRequest { PeerId = "x", MaxPieces = 3, Wanted = [0, 5, 9] }),
            Seed(new ScheduleResponse { Pieces = [new PieceAssignment { Index = 1, Digest = P2PProtocolTests.Blob.Digest, Parents = [new ParentRef { PeerId = "p", Url = "http://127.0.0.1:1/" }] }], RetryAfterMs = 5 }),
            Seed(new PieceReportRequest { PeerId = "x", Results = [new PieceResult { Index = 1, ParentId = "p", Failure = PieceFailure.Busy }] }),
            Seed(new TaskCompleteRequest { PeerId = "x", Verified = true }),
            Seed(new PreheatRequest { Image = "r.example/a/b:1", Platform = "linux/arm64/v8" }),
            Seed(new PreheatResponse { Blobs = [P2PProtocolTests.Blob], SeedPeers = 1 }),
            Seed(new ErrorResponse { Error = "e" }),
        };

        for (int i = 0; i < Iterations; i++)
        {
            var (seed, parse) = seeds[random.Next(seeds.Length)];
            byte[] input = i % 7 == 6 ? FuzzInput.RandomBytes(random, 300) : FuzzInput.Mutate(seed, random);
            parse(input);
        }
    }

    [Fact]
    public void TryParsePiecePath_RandomPaths_NeverThrow()
    {
        var random = new Random(6);
        byte[] seed = System.Text.Encoding.UTF8.GetBytes(P2PProtocol.PiecePath(Digest.Compute("x"u8), 12));
        for (int i = 0; i < Iterations; i++)
        {
            string path = System.Text.Encoding.UTF8.GetString(FuzzInput.Mutate(seed, random));
            if (P2PProtocol.TryParsePiecePath(path, out var task, out int index))
            {
                Assert.InRange(index, 0, P2PProtocol.MaxPieceCount - 1);
                Assert.Equal(path, P2PProtocol.PiecePath(task, index));
            }

            if (P2PProtocol.TryParseTaskPath(path, out var t, out string? action))
            {
                Assert.Equal(path, P2PProtocol.TaskPath(t, action));
            }
        }
    }

    private static (byte[], Func<byte[], bool>) Seed<T>(T message) where T : class
        => (P2PProtocol.Serialize(message), input =>
        {
            // Either a clean refusal, or a message that passes validation and serializes back to a parseable form.
            if (!P2PProtocol.TryParse<T>(input, out var parsed, out string? error, P2PProtocol.MaxResponseBytes))
            {
                Assert.False(string.IsNullOrEmpty(error));
                return false;
            }

            Assert.True(P2PProtocol.TryParse<T>(P2PProtocol.Serialize(parsed), out _, out string? again, P2PProtocol.MaxResponseBytes), again);
            return true;
        });
}
