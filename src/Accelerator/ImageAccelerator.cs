using Accelerator.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Accelerator;

/// <summary>
/// The facade: mounts an image with the first configured strategy whose mounter can serve it, recording every
/// strategy it skipped (and why) in the mount's statistics, the log and the metrics.
/// </summary>
internal sealed partial class ImageAccelerator : IImageAccelerator
{
    private readonly Dictionary<Strategy, IImageMounter> _mounters;
    private readonly ImageAcceleratorOptions _options;
    private readonly AcceleratorMetrics _metrics;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Strategy[] _order;

    public ImageAccelerator(
        IEnumerable<IImageMounter> mounters,
        IOptions<ImageAcceleratorOptions> options,
        IEnumerable<StrategyRegistration>? registrations = null,
        AcceleratorMetrics? metrics = null,
        ILogger<ImageAccelerator>? logger = null,
        TimeProvider? time = null)
    {
        _options = options.Value;
        _mounters = new Dictionary<Strategy, IImageMounter>();
        foreach (var mounter in mounters)
        {
            // The first registration of a strategy wins, as with TryAdd.
            _mounters.TryAdd(mounter.Strategy, mounter);
        }

        _metrics = metrics ?? new AcceleratorMetrics();
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _time = time ?? TimeProvider.System;
        // Unless the caller set an order, each strategy's registration says where it goes.
        var orders = new Dictionary<Strategy, int>();
        foreach (var registration in registrations ?? [])
        {
            orders.TryAdd(registration.Strategy, registration.Order);
        }

        _order = _options.Strategies?.ToArray()
            ?? [.. _mounters.Keys.OrderBy(s => orders.GetValueOrDefault(s, StrategyRegistration.DefaultOrder))];
        Strategies = _order.Where(_mounters.ContainsKey).ToArray();
        // A configured name no mounter answers to is skipped; say so once, since it is also what a misspelling looks like.
        foreach (var missing in _order.Where(s => !_mounters.ContainsKey(s)))
        {
            LogNoMounter(missing.Name, string.Join(", ", _mounters.Keys.Select(s => s.Name)));
        }
    }

    public IReadOnlyList<Strategy> Strategies { get; }

    public async Task<IMountedImage> MountAsync(ImageReference image, string mountPoint, MountOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentException.ThrowIfNullOrEmpty(mountPoint);
        options ??= new MountOptions();
        if (options.Platform is null && _options.Platform is not null)
        {
            options = options with { Platform = _options.Platform };
        }

        if (Strategies.Count == 0)
        {
            throw new InvalidOperationException(_order.Length == 0
                ? "No mounter is registered: add a strategy (for example UseFullPull())."
                : $"No mounter is registered for any of the configured strategies ({string.Join(", ", _order)}).");
        }

        long started = _time.GetTimestamp();
        var skipped = new List<(Strategy, string)>();
        foreach (var strategy in Strategies)
        {
            var mounter = _mounters[strategy];
            var (canMount, reason) = await mounter.CanMountAsync(image, cancellationToken).ConfigureAwait(false);
            if (!canMount)
            {
                reason ??= "unavailable";
                skipped.Add((strategy, reason));
                _metrics.FellBack(strategy);
                LogFallback(image, AcceleratorMetrics.StrategyName(strategy), reason);
                continue;
            }

            IMountedImage mounted;
            try
            {
                mounted = await mounter.MountAsync(image, mountPoint, options, cancellationToken).ConfigureAwait(false);
            }
            catch (MountPointHeldException held) when (held.HeldStrategy is { } other && !string.Equals(other, strategy.Name, StringComparison.Ordinal))
            {
                // A live mount left there for a successor is resumed by the strategy that made it, never mounted over.
                skipped.Add((strategy, held.Message));
                _metrics.FellBack(strategy);
                LogFallback(image, AcceleratorMetrics.StrategyName(strategy), held.Message);
                continue;
            }

            foreach (var entry in skipped)
            {
                mounted.Statistics.Fallbacks.Add(entry);
            }

            var elapsed = _time.GetElapsedTime(started);
            _metrics.Mounted(strategy, elapsed);
            foreach (var (source, bytes) in mounted.Statistics.BytesFetchedBySource)
            {
                _metrics.Fetched(source, bytes);
            }

            LogMounted(image, AcceleratorMetrics.StrategyName(strategy), mountPoint, elapsed.TotalMilliseconds);
            return mounted;
        }

        throw new InvalidOperationException(
            $"No strategy could mount {image}: " + string.Join("; ", skipped.Select(s => $"{AcceleratorMetrics.StrategyName(s.Item1)}: {s.Item2}")) + ".");
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Strategy {Strategy} is configured but no mounter is registered for it (registered: {Registered}); it is skipped.")]
    private partial void LogNoMounter(string strategy, string registered);

    [LoggerMessage(Level = LogLevel.Information, Message = "Strategy {Strategy} cannot serve {Image}: {Reason}; falling back.")]
    private partial void LogFallback(ImageReference image, string strategy, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Mounted {Image} at {MountPoint} with strategy {Strategy} in {Milliseconds:F0} ms.")]
    private partial void LogMounted(ImageReference image, string strategy, string mountPoint, double milliseconds);
}
