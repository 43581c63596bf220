using System.Diagnostics.Metrics;

namespace Accelerator.Telemetry;

/// <summary>The metrics the accelerator publishes, on the meter named <see cref="MeterName"/>.</summary>
public sealed class AcceleratorMetrics
{
    /// <summary>The meter name to listen to (e.g. with OpenTelemetry or dotnet-counters).</summary>
    public const string MeterName = "Accelerator";

    private readonly Counter<long> _mounts;
    private readonly Counter<long> _fallbacks;
    private readonly Counter<long> _bytesFetched;
    private readonly Histogram<double> _timeToReady;

    /// <summary>Creates the instruments on a meter from <paramref name="meterFactory"/>, or a standalone meter.</summary>
    public AcceleratorMetrics(IMeterFactory? meterFactory = null)
    {
        var meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _mounts = meter.CreateCounter<long>("accelerator.mounts", description: "Images mounted, by strategy.");
        _fallbacks = meter.CreateCounter<long>("accelerator.mount.fallbacks", description: "Strategies skipped because they could not serve an image.");
        _bytesFetched = meter.CreateCounter<long>("accelerator.bytes_fetched", unit: "By", description: "Bytes fetched, by source.");
        _timeToReady = meter.CreateHistogram<double>("accelerator.mount.time_to_ready", unit: "s", description: "Time until a mount was ready.");
    }

    /// <summary>Records a mount served by <paramref name="strategy"/>.</summary>
    public void Mounted(Strategy strategy, TimeSpan timeToReady)
    {
        var tag = new KeyValuePair<string, object?>("strategy", StrategyName(strategy));
        _mounts.Add(1, tag);
        _timeToReady.Record(timeToReady.TotalSeconds, tag);
    }

    /// <summary>Records that <paramref name="strategy"/> could not serve an image.</summary>
    public void FellBack(Strategy strategy)
        => _fallbacks.Add(1, new KeyValuePair<string, object?>("strategy", StrategyName(strategy)));

    /// <summary>Records bytes fetched from <paramref name="source"/>.</summary>
    public void Fetched(string source, long bytes)
        => _bytesFetched.Add(bytes, new KeyValuePair<string, object?>("source", source));

    /// <summary>The lowercase name of a strategy, as used in tags, logs and the CLI.</summary>
    public static string StrategyName(Strategy strategy) => strategy.Name;
}
