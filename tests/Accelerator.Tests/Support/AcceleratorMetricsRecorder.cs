using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Accelerator.Telemetry;

namespace Accelerator.Tests.Support;

/// <summary>
/// Listens to the <see cref="AcceleratorMetrics.MeterName"/> meter created by one service provider's meter factory (so
/// tests running at the same time do not see each other's measurements) and keeps every long measurement.
/// </summary>
internal sealed class AcceleratorMetricsRecorder : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentQueue<(string Instrument, long Value, Dictionary<string, object?> Tags)> _measurements = new();

    public AcceleratorMetricsRecorder(IMeterFactory factory)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == AcceleratorMetrics.MeterName && ReferenceEquals(instrument.Meter.Scope, factory))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            var copy = new Dictionary<string, object?>(StringComparer.Ordinal);
            foreach (var tag in tags)
            {
                copy[tag.Key] = tag.Value;
            }

            _measurements.Enqueue((instrument.Name, value, copy));
        });
        _listener.Start();
    }

    /// <summary>The sum of <paramref name="instrument"/>'s measurements whose tag <paramref name="key"/> is <paramref name="value"/>.</summary>
    public long Sum(string instrument, string key, string value)
        => _measurements.Where(m => m.Instrument == instrument && Equals(m.Tags.GetValueOrDefault(key), value)).Sum(m => m.Value);

    public void Dispose() => _listener.Dispose();
}
