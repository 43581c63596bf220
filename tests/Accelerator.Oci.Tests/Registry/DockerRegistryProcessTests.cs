using System.Text;
using Accelerator.Oci.Registry;
using Accelerator.Testing.Registry;

namespace Accelerator.Oci.Tests.Registry;

/// <summary>The docker-registry fixture's optional parts that the shared fixture does not use.</summary>
public sealed class DockerRegistryProcessTests
{
    [Fact]
    public async Task StartAsync_NotificationEndpoint_ReceivesPushEvents()
    {
        var events = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var sink = await LoopbackHttpServer.StartAsync(async context =>
        {
            using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
            string body = await reader.ReadToEndAsync();
            if (body.Contains("\"push\"", StringComparison.Ordinal) && body.Contains("notify/app", StringComparison.Ordinal))
            {
                events.TrySetResult(context.Request.ContentType ?? "");
            }
        });
        var options = new DockerRegistryOptions();
        options.NotificationEndpoints.Add(new Uri(sink.Url, "events"));
        string root;
        await using (var registry = await DockerRegistryProcess.StartAsync(options))
        {
            root = registry.RootDirectory;
            using var client = new RegistryClient(RegistryFixture.Options());
            await TestImage.Create(301).PushAsync(client, registry.Host, "notify/app", "v1");
            string contentType = await events.Task.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.StartsWith("application/vnd.docker.distribution.events.v1+json", contentType, StringComparison.Ordinal);
        }

        Assert.False(Directory.Exists(root));
    }
}
