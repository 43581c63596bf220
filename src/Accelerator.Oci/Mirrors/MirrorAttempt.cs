namespace Accelerator.Oci.Mirrors;

/// <summary>
/// One request to one host within a failover: counted as in flight at the host while it lasts, with a stall guard (a
/// cancellation timer on the set's clock) linked to the caller's token. The attempt arms the guard around each wait
/// for bytes; a stream that outlives the attempt takes the guard and the in-flight count with <see cref="Detach"/>.
/// </summary>
internal sealed class MirrorAttempt : IDisposable
{
    private readonly MirrorSet _set;
    private readonly MirrorHost.Scope _scope;
    private readonly CancellationTokenSource _stall;
    private readonly CancellationTokenSource _linked;
    private bool _detached;

    public MirrorAttempt(MirrorSet set, MirrorRoute route, int index, bool stallFromStart, CancellationToken cancellationToken)
    {
        _set = set;
        Route = route;
        Index = index;
        _scope = set.Begin(route);
        _stall = new CancellationTokenSource(stallFromStart && !route.IsOrigin ? set.Options.StallTimeout : Timeout.InfiniteTimeSpan, set.Time);
        _linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stall.Token);
    }

    /// <summary>The host tried.</summary>
    public MirrorRoute Route { get; }

    /// <summary>Its position in the plan.</summary>
    public int Index { get; }

    /// <summary>The caller's token, cancelled too when the stall guard fires.</summary>
    public CancellationToken Token => _linked.Token;

    /// <summary>Whether the stall guard fired.</summary>
    public bool Stalled => _stall.IsCancellationRequested;

    /// <summary>Starts (or restarts) the stall guard: the next bytes must come within the stall timeout.</summary>
    public void ArmStall() => _stall.CancelAfter(_set.Options.StallTimeout);

    /// <summary>Starts the stall guard unless the host is the origin (whose first answer may take long).</summary>
    public void ArmStallUnlessOrigin()
    {
        if (!Route.IsOrigin)
        {
            ArmStall();
        }
    }

    /// <summary>Stops the stall guard.</summary>
    public void DisarmStall() => _stall.CancelAfter(Timeout.InfiniteTimeSpan);

    /// <summary>Hands the in-flight count and the stall guard to a stream that outlives the attempt (it disposes them).</summary>
    public (MirrorHost.Scope Scope, CancellationTokenSource Stall) Detach()
    {
        _detached = true;
        return (_scope, _stall);
    }

    public void Dispose()
    {
        _linked.Dispose();
        if (!_detached)
        {
            _stall.Dispose();
            _scope.Dispose();
        }
    }
}
