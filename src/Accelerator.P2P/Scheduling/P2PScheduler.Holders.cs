namespace Accelerator.P2P.Scheduling;

public sealed partial class P2PScheduler
{
    // Who holds which piece, and which holders have an upload slot the scheduler has not handed out yet. Children are
    // sent only to holders with a free slot: a child sent to a saturated parent would hold one of its own download slots
    // waiting (or bounce with 503) while other holders sit idle.

    private static void AddHolder(TaskState state, TaskMember member, int index)
    {
        var piece = state.Pieces[index];
        string id = member.Peer.Info.PeerId;
        if (state.Banned.Contains(id))
        {
            return; // a banned peer may download, but is never offered as a parent for the task again.
        }

        piece.Holders.Add(id);
        if (member.Peer.HasFreeSlot)
        {
            piece.FreeHolders.Add(id);
        }
    }

    private static void RemoveHolder(PieceState piece, string peerId)
    {
        piece.Holders.Remove(peerId);
        piece.FreeHolders.Remove(peerId);
    }

    /// <summary>Counts an upload handed to (or taken back from) <paramref name="parent"/>, keeping the free-holder sets in step.</summary>
    private static void ChangeAssigned(PeerState parent, int delta)
    {
        bool wasFree = parent.HasFreeSlot;
        parent.AssignedUploads = Math.Max(0, parent.AssignedUploads + delta);
        if (wasFree != parent.HasFreeSlot)
        {
            RefreshFreeHolder(parent);
        }
    }

    /// <summary>Puts the peer in (or takes it out of) the free-holder set of every piece it holds, after its free slots changed.</summary>
    private static void RefreshFreeHolder(PeerState peer)
    {
        string id = peer.Info.PeerId;
        bool free = peer.HasFreeSlot;
        foreach (var task in peer.Tasks)
        {
            if (!task.Members.TryGetValue(id, out var member) || member.HeldCount == 0 || task.Banned.Contains(id))
            {
                continue;
            }

            for (int i = 0; i < task.PieceCount; i++)
            {
                if (member.Held[i])
                {
                    if (free)
                    {
                        task.Pieces[i].FreeHolders.Add(id);
                    }
                    else
                    {
                        task.Pieces[i].FreeHolders.Remove(id);
                    }
                }
            }
        }
    }
}
