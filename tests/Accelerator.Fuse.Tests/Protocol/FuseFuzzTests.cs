using System.Runtime.InteropServices;
using Accelerator.Fuse.Protocol;
using Accelerator.Fuse.Tests.Support;
using Accelerator.Linux;
using Accelerator.Testing.Fuzzing;
using B = Accelerator.Fuse.Tests.Protocol.FuseRequestBuilder;

namespace Accelerator.Fuse.Tests.Protocol;

/// <summary>Random and mutated requests: the parser throws only <see cref="FuseProtocolException"/>; the session always answers cleanly.</summary>
public sealed class FuseFuzzTests : IDisposable
{
    private readonly MountScratch _scratch = new();

    public FuseFuzzTests()
    {
        _scratch.WriteFile("file", MountScratch.RandomBytes(10_000, 5));
        _scratch.WriteFile("dir/child", "c"u8.ToArray());
        Accelerator.Testing.Interop.UnixFile.SetXattr(Path.Combine(_scratch.Source, "file"), "user.x", "y"u8);
    }

    public void Dispose() => _scratch.Dispose();

    private static List<byte[]> Seeds() =>
    [
        B.Init(),
        B.Init(minor: 22),
        B.Build(FuseOpcode.Lookup, 10, 1, B.Name("file")),
        B.Build(FuseOpcode.Lookup, 12, 1, B.Name("dir")),
        B.Build(FuseOpcode.GetAttr, 14, 2, new FuseGetAttrIn()),
        B.Build(FuseOpcode.Open, 16, 2, new FuseOpenIn()),
        B.Read(FuseOpcode.Read, 18, 2, 1, 100, 4096),
        B.Build(FuseOpcode.OpenDir, 20, 1, new FuseOpenIn()),
        B.Read(FuseOpcode.ReadDir, 22, 1, 1, 0, 4096),
        B.Read(FuseOpcode.ReadDirPlus, 24, 1, 1, 1, 4096),
        B.Build(FuseOpcode.ReleaseDir, 26, 1, new FuseReleaseIn { FileHandle = 1 }),
        B.Build(FuseOpcode.Release, 28, 2, new FuseReleaseIn()),
        B.GetXattr(30, 2, "user.x", 10),
        B.Build(FuseOpcode.ListXattr, 32, 2, new FuseGetXattrIn { Size = 100 }),
        B.Build(FuseOpcode.Access, 34, 2, new FuseAccessIn { Mask = 4 }),
        B.Build(FuseOpcode.StatFs, 36, 1, []),
        B.Build(FuseOpcode.ReadLink, 38, 2, []),
        B.Build(FuseOpcode.Forget, 40, 2, new FuseForgetIn { NLookup = 1 }),
        B.Build(FuseOpcode.BatchForget, 42, 0, [.. BitConverter.GetBytes(1u), .. new byte[4], .. new byte[16]]),
        B.Build(FuseOpcode.Interrupt, 45, 0, new FuseInterruptIn { Unique = 44 }),
        B.Build(FuseOpcode.Destroy, 46, 0, []),
    ];

    [Fact]
    public void Parse_RandomAndMutatedBytes_ThrowOnlyFuseProtocolException()
    {
        var random = new Random(1234);
        var seeds = Seeds();
        for (int i = 0; i < 20_000; i++)
        {
            byte[] input = i % 4 == 0 ? FuzzInput.RandomBytes(random, 200) : FuzzInput.Mutate(seeds[random.Next(seeds.Count)], random);
            try
            {
                var request = FuseRequest.Parse(input);
                TryEach(request);
            }
            catch (FuseProtocolException)
            {
            }
        }
    }

    [Fact]
    public async Task Process_RandomAndMutatedRequests_EveryReplyIsWellFormed()
    {
        await using var harness = new SessionHarness(_scratch.Source);
        var random = new Random(5678);
        var seeds = Seeds();
        harness.Send(B.Init());
        for (int i = 0; i < 20_000; i++)
        {
            byte[] input = i % 4 == 0 ? FuzzInput.RandomBytes(random, 200) : FuzzInput.Mutate(seeds[random.Next(seeds.Count)], random);
            if (FuseRequest.TryReadHeader(input, out var header) && header.Opcode == (uint)FuseOpcode.Read && header.Length == input.Length)
            {
                // Keep reads within what the kernel could ask (the session refuses larger ones anyway).
                input.AsSpan(40 + 16, 4).Clear();
                input[40 + 17] = 0x10;
            }

            harness.Send(input);
        }

        Assert.NotEmpty(harness.Sink.All);
        foreach (byte[] reply in harness.Sink.All)
        {
            var header = MemoryMarshal.Read<FuseOutHeader>(reply);
            Assert.Equal((uint)reply.Length, header.Length);
            Assert.InRange(header.Error, -Errno.MaxErrno, 0);
            Assert.True(header.Error == 0 || reply.Length == FuseProtocol.OutHeaderSize, $"an error reply of {reply.Length} bytes");
        }

        Assert.True(harness.Session.Statistics.MalformedRequests > 0);
    }

    private static void TryEach(FuseRequest request)
    {
        foreach (var read in new Action<FuseRequest>[]
        {
            r => r.ReadInit(),
            r => r.ReadRead(),
            r => r.ReadGetAttr(),
            r => r.ReadName(),
            r => r.ReadGetXattr(out _),
            r => r.ReadBatchForget(),
            r => r.Read<FuseOpenIn>(),
            r => r.Read<FuseReleaseIn>(),
            r => r.Read<FuseInterruptIn>(),
            r => r.Read<FuseAccessIn>(),
        })
        {
            try
            {
                read(request);
            }
            catch (FuseProtocolException)
            {
            }
        }
    }
}
