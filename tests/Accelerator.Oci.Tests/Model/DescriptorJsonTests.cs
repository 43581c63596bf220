using System.Text;
using System.Text.Json;
using Accelerator.Oci.Model;

namespace Accelerator.Oci.Tests.Model;

public sealed class DescriptorJsonTests
{
    private const string Hex = "1111111111111111111111111111111111111111111111111111111111111111";

    private static Descriptor Read(string json) => OciJson.Deserialize<Descriptor>(Encoding.UTF8.GetBytes(json), "descriptor");

    [Fact]
    public void Deserialize_FullDescriptor_ReadsEveryField()
    {
        var descriptor = Read($$$"""
            {"mediaType":"m","artifactType":"a","digest":"sha256:{{{Hex}}}","size":12,"urls":["https://x/y"],
             "annotations":{"k":"v"},"platform":{"os":"linux","architecture":"arm","variant":"v7"},"unknown":{"nested":[1,2]}}
            """);

        Assert.Equal("m", descriptor.MediaType);
        Assert.Equal("a", descriptor.ArtifactType);
        Assert.Equal(Digest.Parse("sha256:" + Hex), descriptor.Digest);
        Assert.Equal(12, descriptor.Size);
        Assert.Equal(["https://x/y"], descriptor.Urls!);
        Assert.Equal("v", descriptor.Annotations!["k"]);
        Assert.Equal(new Platform("linux", "arm", "v7"), descriptor.Platform);
    }

    [Theory]
    [InlineData("sha256:../x")]
    [InlineData("sha256:../../../../etc/passwd")]
    [InlineData("sha256:/etc/passwd")]
    [InlineData("SHA256:" + Hex)]
    [InlineData("sha256:" + Hex + "\n")]
    [InlineData("md5:d41d8cd98f00b204e9800998ecf8427e")]
    [InlineData("")]
    public void Deserialize_BadDigest_ThrowsFormatException(string digest)
        => Assert.Throws<FormatException>(() => Read(JsonSerializer.Serialize(new { digest, size = 1 })));

    [Theory]
    [InlineData(-1)]
    [InlineData(long.MinValue)]
    public void Deserialize_NegativeSize_ThrowsFormatException(long size)
        => Assert.Throws<FormatException>(() => Read($$"""{"digest":"sha256:{{Hex}}","size":{{size}}}"""));

    [Theory]
    [InlineData($$"""{"size":1}""")]
    [InlineData($$"""{"digest":"sha256:{{Hex}}"}""")]
    [InlineData($$"""{"digest":"sha256:{{Hex}}","size":"1"}""")]
    [InlineData($$"""{"digest":"sha256:{{Hex}}","size":1.5}""")]
    [InlineData($$"""{"digest":"sha256:{{Hex}}","size":99999999999999999999}""")]
    [InlineData($$"""{"digest":7,"size":1}""")]
    [InlineData($$"""{"digest":"sha256:{{Hex}}","size":1,"mediaType":3}""")]
    [InlineData($$$"""{"digest":"sha256:{{{Hex}}}","size":1,"platform":{"os":"linux"}}""")]
    [InlineData($$"""{"digest":"sha256:{{Hex}}","size":1,"platform":"linux/amd64"}""")]
    [InlineData($$$"""{"digest":"sha256:{{{Hex}}}","size":1,"annotations":{"k":1}}""")]
    [InlineData($$"""{"digest":"sha256:{{Hex}}","size":1,"urls":"x"}""")]
    [InlineData("[]")]
    [InlineData("\"sha256\"")]
    public void Deserialize_Malformed_ThrowsFormatException(string json)
        => Assert.Throws<FormatException>(() => Read(json));

    [Fact]
    public void Serialize_Descriptor_OciFieldNamesAndNoNulls()
    {
        var descriptor = new Descriptor("m", Digest.Parse("sha256:" + Hex), 5)
        {
            Platform = new Platform("windows", "amd64") { OSVersion = "10.0", OSFeatures = ["win32k"] },
        };

        string json = Encoding.UTF8.GetString(OciJson.Serialize(descriptor));

        Assert.Equal($$$"""{"mediaType":"m","digest":"sha256:{{{Hex}}}","size":5,"platform":{"architecture":"amd64","os":"windows","os.version":"10.0","os.features":["win32k"]}}""", json);
        Assert.Equal(descriptor, Read(json));
    }
}
