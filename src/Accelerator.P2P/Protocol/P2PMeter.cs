using System.Diagnostics.Metrics;

namespace Accelerator.P2P.Protocol;

/// <summary>
/// The P2P instruments on the meter named <see cref="Name"/> (System.Diagnostics.Metrics, for OpenTelemetry and
/// dotnet-counters): observable counters read from a peer's or a scheduler's statistics, tagged with the peer id or
/// the scheduler URL. The same figures are served as Prometheus text on <c>/metrics</c>.
/// </summary>
public static class P2PMeter
{
    /// <summary>The meter name.</summary>
    public const string Name = "Accelerator.P2P";

    /// <summary>Creates a meter whose observable instruments report <paramref name="counters"/>, each tagged with <paramref name="tag"/>.</summary>
    internal static Meter Create(KeyValuePair<string, object?> tag, IEnumerable<(string Name, string Unit, string Description, Func<long> Read)> counters)
    {
        var meter = new Meter(Name);
        foreach (var (name, unit, description, read) in counters)
        {
            meter.CreateObservableCounter(name, () => new Measurement<long>(read(), tag), unit, description);
        }

        return meter;
    }
}
