using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Accelerator.Snapshotter.Remote;

/// <summary>
/// The remote snapshots' metrics, on meter <c>Accelerator.Snapshotter</c>: <c>accel.snapshotter.decisions</c> (one per
/// image decision, tagged <c>strategy</c> and <c>reason</c>, a short category, and <c>source</c> when the strategy says what
/// it mounted: <c>converted</c> or <c>seekable</c> for lazy) and
/// <c>accel.snapshotter.time_to_ready</c> (seconds from the decision's start to the image's mount).
/// </summary>
public sealed class RemoteSnapshotMetrics
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "Accelerator.Snapshotter";

    private readonly Counter<long> _decisions;
    private readonly Histogram<double> _timeToReady;
    private readonly Dictionary<(string Strategy, string Reason), long> _totals = [];

    /// <summary>Creates the instruments on a meter from <paramref name="meterFactory"/> (or a meter of its own).</summary>
    public RemoteSnapshotMetrics(IMeterFactory? meterFactory = null)
    {
        Meter meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _decisions = meter.CreateCounter<long>("accel.snapshotter.decisions", "{decision}", "Decisions per image: which strategy serves it, or why containerd downloads it.");
        _timeToReady = meter.CreateHistogram<double>("accel.snapshotter.time_to_ready", "s", "From the decision's start until the image was mounted.");
    }

    /// <summary>The decisions counted so far, per strategy and reason.</summary>
    public IReadOnlyDictionary<(string Strategy, string Reason), long> Totals
    {
        get
        {
            lock (_totals)
            {
                return new Dictionary<(string, string), long>(_totals);
            }
        }
    }

    /// <summary>Counts one decision; <paramref name="source"/> is what the strategy mounted (<see cref="MountStatistics.Source"/>), if it says.</summary>
    public void Decided(string strategy, string reason, TimeSpan? timeToReady, string? source = null)
    {
        var tags = new TagList { { "strategy", strategy }, { "reason", reason } };
        if (source is not null)
        {
            tags.Add("source", source);
        }

        _decisions.Add(1, tags);
        if (timeToReady is { } elapsed)
        {
            _timeToReady.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("strategy", strategy));
        }

        lock (_totals)
        {
            _totals[(strategy, reason)] = _totals.GetValueOrDefault((strategy, reason)) + 1;
        }
    }
}
