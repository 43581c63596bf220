using Accelerator.Oci.Registry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Accelerator.Replication.Tests;

/// <summary>
/// The replicator's and the service's options are checked by generated validators: by the constructor and
/// <c>StartAsync</c> ("Invalid … options: …") and, in a host, before any daemon starts.
/// </summary>
public sealed class ReplicationOptionsValidatorTests
{
    [Fact]
    public void ReplicationValidator_NoTargetAndNoParallelism_ReportsEach()
    {
        var result = new ReplicationOptionsValidator().Validate(Options.DefaultName, new ReplicationOptions { MaxParallelBlobs = 0 });

        Assert.Equal(["Replication needs at least one target.", "MaxParallelImages and MaxParallelBlobs must be at least 1."], result.Failures!);
    }

    [Fact]
    public void ReplicationValidator_NullFilter_ReportsIt()
    {
        var options = new ReplicationOptions { Filter = null! };
        options.Targets.Add(ReplicationEndpoint.Parse("127.0.0.1:2"));

        var result = new ReplicationOptionsValidator().Validate(Options.DefaultName, options);

        Assert.Contains(result.Failures!, f => f.StartsWith("Filter: ", StringComparison.Ordinal));
    }

    [Fact]
    public void Replicator_NoTarget_ThrowsArgumentExceptionWithTheMessage()
    {
        using var client = new RegistryClient(new RegistryOptions());

        var error = Assert.Throws<ArgumentException>(() => new Replicator(client, new ReplicationOptions()));

        Assert.Equal("Invalid replication options: Replication needs at least one target.", error.Message);
    }

    [Fact]
    public void ServiceValidator_Valid_Succeeds()
        => Assert.True(new ReplicationServiceOptionsValidator().Validate(Options.DefaultName, Valid()).Succeeded);

    [Fact]
    public void ServiceValidator_Problems_ReportsEachWithItsMessage()
    {
        var options = Valid();
        options.EventsPath = "events";
        options.DataDirectory = null;
        options.MaxRequestBodyBytes = 10;
        options.TagGracePeriod = TimeSpan.FromSeconds(-1);
        options.RetryMaxDelay = TimeSpan.Zero;

        var failures = new ReplicationServiceOptionsValidator().Validate(Options.DefaultName, options).Failures!;

        Assert.Contains(failures, f => f.EndsWith("DataDirectory is required.", StringComparison.Ordinal));
        Assert.Contains("MaxRequestBodyBytes must be between 1 KiB and 64 MiB.", failures);
        Assert.Contains("EventsPath must start with '/'.", failures);
        Assert.Contains("TagGracePeriod must not be negative.", failures);
        Assert.Contains("RetryBaseDelay must be positive and RetryMaxDelay at least as long.", failures);
        Assert.Equal(5, failures.Count());
    }

    [Fact]
    public void ServiceValidator_TlsFileMissing_ReportsTheTlsProblem()
    {
        var options = Valid();
        options.Listen = new Uri("https://127.0.0.1:0");
        options.Tls = new Accelerator.Hosting.ListenerTlsOptions { CertificateFile = "/nonexistent/cert.pem", KeyFile = "/nonexistent/key.pem" };

        var failures = new ReplicationServiceOptionsValidator().Validate(Options.DefaultName, options).Failures!;

        Assert.Contains("TLS: '/nonexistent/cert.pem' does not exist.", failures);
    }

    [Fact]
    public async Task AddReplicationService_InvalidOptions_HostStartThrowsTheValidationError()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddReplicationService(
            o =>
            {
                o.Listen = new Uri("http://127.0.0.1:0");
                o.DataDirectory = "/nonexistent/queue";
                o.BearerToken = "token";
                o.SourceRegistries.Add("127.0.0.1:1");
            },
            _ => { });
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("Replication needs at least one target.", error.Message, StringComparison.Ordinal);
    }

    private static ReplicationServiceOptions Valid()
    {
        var options = new ReplicationServiceOptions { Listen = new Uri("http://127.0.0.1:0"), DataDirectory = "/tmp/queue", BearerToken = "token" };
        options.SourceRegistries.Add("127.0.0.1:1");
        return options;
    }
}
