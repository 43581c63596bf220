namespace Accelerator.Oci.Mirrors;

/// <summary>How reads are spread over the healthy mirrors that hold what is asked for (the origin is only a fallback).</summary>
public enum LoadBalancingPolicy
{
    /// <summary>The mirror with the fewest requests in flight from this process; ties go round-robin.</summary>
    LeastOutstandingRequests,

    /// <summary>Each mirror in turn, starting at a random one so that many clients do not move in step.</summary>
    RoundRobin,

    /// <summary>
    /// A hash ring over the mirrors (with virtual nodes), keyed by digest: every client sends a given blob to the same
    /// mirror, so each pull-through mirror caches a share; when a mirror is down only its share moves.
    /// </summary>
    ConsistentHash,

    /// <summary>No balancing: the first healthy mirror in configured order (containerd's behaviour).</summary>
    Ordered,
}
