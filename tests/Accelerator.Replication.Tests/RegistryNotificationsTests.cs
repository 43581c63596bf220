using System.Text;
using Accelerator.Replication;
using Accelerator.Testing.Fuzzing;

namespace Accelerator.Replication.Tests;

public sealed class RegistryNotificationsTests
{
    /// <summary>An envelope as docker-registry 2.8 sends it for <c>skopeo copy … docker://127.0.0.1:18098/team/app:1.0</c>.</summary>
    internal const string ManifestPush = """
        {
           "events": [
              {
                 "id": "9b984b9d-19ed-4bc3-92b2-07498496538d",
                 "timestamp": "2026-11-28T02:50:49.332973998Z",
                 "action": "push",
                 "target": {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "size": 192,
                    "digest": "sha256:e0c6f5f18588a6e90961ab95235eb2e2d50c04dc427044bc0e31a687d573bd9a",
                    "length": 192,
                    "repository": "team/app",
                    "url": "http://127.0.0.1:18098/v2/team/app/manifests/sha256:e0c6f5f18588a6e90961ab95235eb2e2d50c04dc427044bc0e31a687d573bd9a",
                    "tag": "1.0"
                 },
                 "request": {
                    "id": "409638f5-dce0-4b68-b022-828281b829fe",
                    "addr": "127.0.0.1:59370",
                    "host": "127.0.0.1:18098",
                    "method": "PUT",
                    "useragent": "skopeo/1.9.3"
                 },
                 "actor": {},
                 "source": {
                    "addr": "vm:18098",
                    "instanceID": "d277f023-edff-4c4e-8957-6108ac04d59e"
                 }
              }
           ]
        }
        """;

    /// <summary>A blob push, a pull and a delete, as docker-registry 2.8 sends them.</summary>
    internal const string OtherEvents = """
        {"events":[
          {"id":"b7","action":"push","target":{"mediaType":"application/octet-stream","size":134,"digest":"sha256:738fe6a61ef6721f155e6926ca52d09844689c437367887a9a04de37b227ef37","length":134,"repository":"team/app","url":"http://127.0.0.1:18098/v2/team/app/blobs/sha256:738fe6a61ef6721f155e6926ca52d09844689c437367887a9a04de37b227ef37"},"request":{"id":"6","addr":"127.0.0.1:59364","host":"127.0.0.1:18098","method":"PUT","useragent":"skopeo/1.9.3"},"actor":{},"source":{"addr":"vm:18098","instanceID":"d2"}},
          {"action":"pull","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":192,"digest":"sha256:e0c6f5f18588a6e90961ab95235eb2e2d50c04dc427044bc0e31a687d573bd9a","length":192,"repository":"team/app","tag":"1.0"},"request":{"host":"127.0.0.1:18098","method":"GET"},"actor":{},"source":{}},
          {"action":"delete","target":{"digest":"sha256:e0c6f5f18588a6e90961ab95235eb2e2d50c04dc427044bc0e31a687d573bd9a","repository":"team/app"},"request":{"host":"127.0.0.1:18098","method":"DELETE"},"actor":{},"source":{}}
        ]}
        """;

    [Fact]
    public void Parse_RegistryManifestPush_ReadsEveryUsedField()
    {
        var e = Assert.Single(RegistryNotifications.Parse(Encoding.UTF8.GetBytes(ManifestPush)));

        Assert.Equal("push", e.Action);
        Assert.Equal("9b984b9d-19ed-4bc3-92b2-07498496538d", e.Id);
        Assert.Equal("application/vnd.oci.image.manifest.v1+json", e.Target.MediaType);
        Assert.Equal(Digest.Parse("sha256:e0c6f5f18588a6e90961ab95235eb2e2d50c04dc427044bc0e31a687d573bd9a"), e.Target.Digest);
        Assert.Equal(192, e.Target.Size);
        Assert.Equal("team/app", e.Target.Repository);
        Assert.Equal("1.0", e.Target.Tag);
        Assert.Equal("127.0.0.1:18098", e.RequestHost);
        Assert.Equal("PUT", e.RequestMethod);
        Assert.Equal("vm:18098", e.SourceAddress);
        Assert.True(e.IsTaggedManifestPush);
    }

    [Fact]
    public void Parse_BlobPushPullAndDelete_NotTaggedManifestPushes()
    {
        var events = RegistryNotifications.Parse(Encoding.UTF8.GetBytes(OtherEvents));

        Assert.Equal(["push", "pull", "delete"], events.Select(e => e.Action));
        Assert.All(events, e => Assert.False(e.IsTaggedManifestPush));
        Assert.Equal(-1, events[2].Target.Size);
    }

    [Theory]
    [InlineData("{}", 0)]
    [InlineData("{\"events\":null}", 0)]
    [InlineData("{\"events\":[]}", 0)]
    [InlineData("{\"events\":[{\"action\":\"push\",\"target\":{\"tag\":\"\",\"repository\":\"a\"}}]}", 1)]
    public void Parse_EmptyOrMinimal_Accepted(string json, int count)
        => Assert.Equal(count, RegistryNotifications.Parse(Encoding.UTF8.GetBytes(json)).Count);

    [Theory]
    [InlineData("")]
    [InlineData("[]")]
    [InlineData("not json")]
    [InlineData("{\"events\":{}}")]
    [InlineData("{\"events\":[1]}")]
    [InlineData("{\"events\":[{}]}")]
    [InlineData("{\"events\":[{\"action\":7}]}")]
    [InlineData("{\"events\":[{\"action\":\"push\",\"target\":[]}]}")]
    [InlineData("{\"events\":[{\"action\":\"push\",\"target\":{\"digest\":\"sha256:xyz\"}}]}")]
    [InlineData("{\"events\":[{\"action\":\"push\",\"target\":{\"repository\":\"Bad/Name\"}}]}")]
    [InlineData("{\"events\":[{\"action\":\"push\",\"target\":{\"repository\":\"a\",\"tag\":\"bad tag\"}}]}")]
    [InlineData("{\"events\":[{\"action\":\"push\",\"target\":{\"size\":-1}}]}")]
    [InlineData("{\"events\":[{\"action\":\"push\",\"target\":{\"size\":\"1\"}}]}")]
    [InlineData("{\"events\":[{\"action\":\"push\",\"request\":{\"host\":\"evil host/x\"}}]}")]
    [InlineData("{\"events\":[{\"action\":\"push\",\"request\":\"x\"}]}")]
    public void Parse_Malformed_FormatException(string json)
        => Assert.Throws<FormatException>(() => RegistryNotifications.Parse(Encoding.UTF8.GetBytes(json)));

    [Fact]
    public void Parse_TooManyEvents_FormatException()
    {
        string json = "{\"events\":[" + string.Join(",", Enumerable.Repeat("{\"action\":\"pull\"}", 11)) + "]}";

        Assert.Throws<FormatException>(() => RegistryNotifications.Parse(Encoding.UTF8.GetBytes(json), maxEvents: 10));
    }

    [Fact]
    public void Parse_DeeplyNested_FormatException()
    {
        string json = "{\"events\":[{\"action\":\"push\",\"x\":" + new string('[', 100) + new string(']', 100) + "}]}";

        Assert.Throws<FormatException>(() => RegistryNotifications.Parse(Encoding.UTF8.GetBytes(json)));
    }

    [Fact]
    public void Parse_MutatedAndRandomEnvelopes_CleanErrorOrConsistentEvents()
    {
        var random = new Random(2718);
        byte[][] seeds = [Encoding.UTF8.GetBytes(ManifestPush), Encoding.UTF8.GetBytes(OtherEvents)];
        for (int i = 0; i < 6000; i++)
        {
            byte[] input = i % 4 == 3 ? FuzzInput.RandomBytes(random, 400) : FuzzInput.Mutate(seeds[random.Next(seeds.Length)], random);
            IReadOnlyList<RegistryEvent> events;
            try
            {
                events = RegistryNotifications.Parse(input);
            }
            catch (FormatException)
            {
                continue;
            }

            foreach (var e in events)
            {
                Assert.False(string.IsNullOrEmpty(e.Action));
                if (e.IsTaggedManifestPush)
                {
                    // What the service would queue is always a valid repository and tag.
                    Accelerator.Oci.Registry.RegistryClient.CheckRepository(e.Target.Repository!);
                    Assert.Matches("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", e.Target.Tag!);
                }
            }
        }
    }
}
