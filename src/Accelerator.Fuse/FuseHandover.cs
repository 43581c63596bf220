namespace Accelerator.Fuse;

/// <summary>
/// The process-wide switch of a takeover: once <see cref="Begin"/> is called, every live <see cref="FuseMount"/> of this
/// process (and every one mounted or resumed later) is left mounted when disposed or signalled
/// (<see cref="FuseMount.LeaveMounted"/>): its session stops reading and its descriptor is released, and a successor
/// holding copies of the descriptors serves the mounts on.
/// </summary>
public static class FuseHandover
{
    private static readonly Lock Gate = new();
    private static readonly HashSet<FuseMount> Mounts = [];
    private static bool _begun;

    /// <summary>Whether <see cref="Begin"/> was called in this process.</summary>
    public static bool IsHandingOver
    {
        get
        {
            lock (Gate)
            {
                return _begun;
            }
        }
    }

    /// <summary>
    /// Whether what is stacked on <paramref name="fuse"/> (an overlay, a loop device and its file system) is to be left
    /// mounted when disposed: asked for (<paramref name="requested"/>: handed over, or taken over and not yet resumed),
    /// this process is handing over, or the FUSE mount itself leaves.
    /// </summary>
    public static bool Leaves(FuseMount? fuse, bool requested) => requested || IsHandingOver || fuse?.LeavesMounted == true;

    /// <summary>Leaves every live mount of this process, and every later one, mounted for a successor. Irreversible.</summary>
    public static void Begin()
    {
        FuseMount[] mounts;
        lock (Gate)
        {
            _begun = true;
            mounts = [.. Mounts];
        }

        foreach (var mount in mounts)
        {
            mount.LeaveMounted();
        }
    }

    internal static void Register(FuseMount mount)
    {
        bool begun;
        lock (Gate)
        {
            Mounts.Add(mount);
            begun = _begun;
        }

        if (begun)
        {
            mount.LeaveMounted();
        }
    }

    internal static void Unregister(FuseMount mount)
    {
        lock (Gate)
        {
            Mounts.Remove(mount);
        }
    }
}
