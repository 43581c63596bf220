using System.Text.Json;
using Accelerator.Block.Tests.Support;

namespace Accelerator.Block.Tests.Nbd;

/// <summary>The server against real NBD clients: qemu-img, nbdcopy, nbdinfo and nbdsh (libnbd).</summary>
public sealed class NbdServerClientTests(NbdServerFixture fixture) : IClassFixture<NbdServerFixture>
{
    [Fact]
    public async Task QemuImgInfo_UnixExport_ReportsImageSize()
    {
        string json = await Tool.CheckAsync("qemu-img", "info", "--output=json", fixture.Uri("disk"));

        using var document = JsonDocument.Parse(json);
        Assert.Equal(NbdServerFixture.ImageSize, document.RootElement.GetProperty("virtual-size").GetInt64());
        Assert.Equal("raw", document.RootElement.GetProperty("format").GetString());
    }

    [Fact]
    public async Task QemuImgCompare_Export_EqualsImage()
    {
        await Tool.CheckAsync("qemu-img", "compare", "-f", "raw", "-F", "raw", fixture.ImagePath, fixture.Uri("disk"));
    }

    [Fact]
    public async Task QemuImgCompare_DefaultExportOverTcp_EqualsImage()
    {
        await Tool.CheckAsync("qemu-img", "compare", "-f", "raw", "-F", "raw", fixture.ImagePath, $"nbd://127.0.0.1:{fixture.Tcp.Port}");
    }

    [Fact]
    public async Task Nbdcopy_Export_HasImageSha256()
    {
        string copy = Path.Combine(fixture.Directory, "copy-" + Guid.NewGuid().ToString("N") + ".img");
        try
        {
            await Tool.CheckAsync("nbdcopy", fixture.Uri("disk"), copy);
            Assert.Equal(RawImages.Sha256(fixture.ImagePath), RawImages.Sha256(copy));
        }
        finally
        {
            File.Delete(copy);
        }
    }

    [Fact]
    public async Task Nbdcopy_TcpWithFourConnections_HasImageSha256()
    {
        string copy = Path.Combine(fixture.Directory, "copy-" + Guid.NewGuid().ToString("N") + ".img");
        try
        {
            await Tool.CheckAsync("nbdcopy", "--connections=4", "--requests=32", $"nbd://127.0.0.1:{fixture.Tcp.Port}/disk", copy);
            Assert.Equal(RawImages.Sha256(fixture.ImagePath), RawImages.Sha256(copy));
        }
        finally
        {
            File.Delete(copy);
        }
    }

    [Fact]
    public async Task NbdinfoList_Server_ListsEveryExportWithSizeAndFlags()
    {
        string json = await Tool.CheckAsync("nbdinfo", "--list", "--json", fixture.Uri(string.Empty));

        using var document = JsonDocument.Parse(json);
        var exports = document.RootElement.GetProperty("exports").EnumerateArray().ToDictionary(e => e.GetProperty("export-name").GetString()!);
        Assert.Equal(["disk", "faulty", "rw", "small"], exports.Keys.Order());
        Assert.Equal("the raw test image", exports["disk"].GetProperty("description").GetString());
        Assert.Equal(NbdServerFixture.ImageSize, exports["disk"].GetProperty("export-size").GetInt64());
        Assert.True(exports["disk"].GetProperty("is_read_only").GetBoolean());
        Assert.False(exports["rw"].GetProperty("is_read_only").GetBoolean());
        Assert.True(exports["rw"].GetProperty("can_trim").GetBoolean());
        Assert.True(exports["rw"].GetProperty("can_zero").GetBoolean());
        Assert.True(exports["rw"].GetProperty("can_fua").GetBoolean());
        Assert.True(exports["disk"].GetProperty("can_multi_conn").GetBoolean());
        Assert.Equal(32 * 1024 * 1024, exports["disk"].GetProperty("block_size_maximum").GetInt64());
    }

    [Fact]
    public async Task Nbdsh_BadRequestsWithStrictModeOff_GetSpecErrorsAndServerStaysUp()
    {
        // Each line: a request real clients refuse to send, and the errno the spec has the server answer.
        string script = $$"""
            import nbd
            h.set_strict_mode(0)
            h.connect_uri("{{fixture.Uri("disk")}}")
            size = h.get_size()
            def attempt(name, call):
                try:
                    call()
                    print(name, 0)
                except nbd.Error as e:
                    print(name, e.errnum)
            attempt("past-end", lambda: h.pread(512, size))
            attempt("crosses-end", lambda: h.pread(4096, size - 512))
            attempt("wrapping", lambda: h.pread(4096, 2**64 - 512))
            attempt("zero-length", lambda: h.pread(0, 0))
            attempt("oversize", lambda: h.pread(32 * 1024 * 1024 + 4096, 0))
            attempt("unknown-flag", lambda: h.pread(512, 0, 1 << 9))
            attempt("misplaced-flag", lambda: h.pread(512, 0, nbd.CMD_FLAG_NO_HOLE))
            attempt("write-read-only", lambda: h.pwrite(b"x" * 512, 0))
            attempt("trim-read-only", lambda: h.trim(4096, 0))
            attempt("zero-read-only", lambda: h.zero(4096, 0))
            attempt("good-read", lambda: h.pread(4096, size - 4096))
            print("first", h.pread(16, 0).hex())
            h.shutdown()
            """;
        string output = await Tool.CheckAsync("nbdsh", "-c", script);

        var results = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')).ToDictionary(p => p[0], p => p[1]);
        Assert.Equal("22", results["past-end"]);
        Assert.Equal("22", results["crosses-end"]);
        Assert.Equal("22", results["wrapping"]);
        Assert.Equal("22", results["zero-length"]);
        Assert.Equal("22", results["oversize"]);
        Assert.Equal("22", results["unknown-flag"]);
        Assert.Equal("22", results["misplaced-flag"]);
        Assert.Equal("1", results["write-read-only"]);
        Assert.Equal("1", results["trim-read-only"]);
        Assert.Equal("1", results["zero-read-only"]);
        Assert.Equal("0", results["good-read"]);
        byte[] first = new byte[16];
        using (var image = File.OpenRead(fixture.ImagePath))
        {
            image.ReadExactly(first);
        }

        Assert.Equal(Convert.ToHexStringLower(first), results["first"]);
    }

    [Fact]
    public async Task Nbdsh_WritesPastEndOfWritableExport_GetEnospc()
    {
        string script = $$"""
            import nbd
            h.set_strict_mode(0)
            h.connect_uri("{{fixture.Uri("rw")}}")
            size = h.get_size()
            for name, call in [("write", lambda: h.pwrite(b"x" * 4096, size - 512)), ("zero", lambda: h.zero(8192, size - 4096)), ("trim", lambda: h.trim(8192, size - 4096))]:
                try:
                    call()
                    print(name, 0)
                except nbd.Error as e:
                    print(name, e.errnum)
            h.shutdown()
            """;
        string output = await Tool.CheckAsync("nbdsh", "-c", script);

        Assert.Contains("write 28", output, StringComparison.Ordinal);
        Assert.Contains("zero 28", output, StringComparison.Ordinal);
        Assert.Contains("trim 22", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Nbdsh_BackendFailsDuringRead_ClientGetsEioNotZeros()
    {
        long before = fixture.Faulty.Failures;
        string script = $$"""
            import nbd
            h.connect_uri("{{fixture.Uri("faulty")}}")
            try:
                data = h.pread(65536, {{NbdServerFixture.FaultOffset}} - 4096)
                print("read", len(data))
            except nbd.Error as e:
                print("read-errno", e.errnum)
            print("after", len(h.pread(4096, 0)))
            h.shutdown()
            """;
        string output = await Tool.CheckAsync("nbdsh", "-c", script);

        Assert.Contains("read-errno 5", output, StringComparison.Ordinal);
        Assert.Contains("after 4096", output, StringComparison.Ordinal);
        Assert.True(fixture.Faulty.Failures > before);
    }

    [Fact]
    public async Task Nbdcopy_BackendFailsDuringCopy_FailsInsteadOfCopyingZeros()
    {
        string copy = Path.Combine(fixture.Directory, "faulty-" + Guid.NewGuid().ToString("N") + ".img");
        try
        {
            var (code, _, error) = await Tool.RunAsync("nbdcopy", fixture.Uri("faulty"), copy);

            Assert.NotEqual(0, code);
            Assert.Contains("Input/output error", error, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(copy);
        }
    }

    [Fact]
    public async Task WritableExport_CopyTrimZeroAndFua_LandInTheFile()
    {
        string source = RawImages.CreateRandom(Path.Combine(fixture.Directory, "source-" + Guid.NewGuid().ToString("N") + ".img"), NbdServerFixture.ImageSize, seed: 99);
        try
        {
            await Tool.CheckAsync("nbdcopy", "--flush", source, fixture.Uri("rw"));
            Assert.Equal(RawImages.Sha256(source), RawImages.Sha256(fixture.WritablePath));

            string script = $$"""
                import nbd
                h.connect_uri("{{fixture.Uri("rw")}}")
                h.zero(65536, 0)
                h.trim(65536, 1048576)
                h.pwrite(b"\xab" * 4096, 8192 * 1024, nbd.CMD_FLAG_FUA)
                h.flush()
                print("zero", h.pread(65536, 0) == bytes(65536))
                print("trim", h.pread(65536, 1048576) == bytes(65536))
                print("fua", h.pread(4096, 8192 * 1024) == b"\xab" * 4096)
                h.shutdown()
                """;
            string output = await Tool.CheckAsync("nbdsh", "-c", script);

            Assert.Contains("zero True", output, StringComparison.Ordinal);
            Assert.Contains("trim True", output, StringComparison.Ordinal);
            Assert.Contains("fua True", output, StringComparison.Ordinal);
            byte[] file = File.ReadAllBytes(fixture.WritablePath);
            Assert.True(file.AsSpan(0, 65536).IndexOfAnyExcept((byte)0) < 0);
            Assert.True(file.AsSpan(1048576, 65536).IndexOfAnyExcept((byte)0) < 0);
            Assert.True(file.AsSpan(8192 * 1024, 4096).IndexOfAnyExcept((byte)0xab) < 0);
        }
        finally
        {
            File.Delete(source);
        }
    }
}
