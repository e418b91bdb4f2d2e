using HotPath.Engine.Vrings;

namespace HotPath.Engine.Datapath;

/// <summary>
/// The cheapest answer to "is there anything to do?" for a burst on a ready ring, asked before the ring's burst
/// function is called: most polls of a device faster than its guest find nothing, and the burst functions are large
/// (their prologue and epilogue alone cost more than this check: 44 of an idle split dequeue's 211 instructions under
/// callgrind). It reads what the bursts read first and says "nothing" only when the burst would return 0 without
/// doing anything: kick suppression is already set up for these features, and (split) avail.idx equals the last
/// avail index, or (packed) the next descriptor is not available. The caller holds the access lock.
/// </summary>
internal static unsafe class IdlePoll
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool NothingToDo(Vring vq, ulong features)
    {
        if (vq.KickSuppressionFeatures != features) return false;   // the burst has flags to write first
        if (vq.IsPacked)
        {
            // SAFETY: LastAvailIdx < Size on a ready packed ring; one acquire load of the descriptor's flags.
            return !PackedRing.HeadAvailable(vq.Desc, new PackedCursor(vq.LastAvailIdx, PackedRingLayout.AvailPattern(vq.AvailWrapCounter)));
        }
        // Acquire load of avail.idx (the burst reads it again before it reads any entry).
        return vq.ReadAvailIdx() == vq.LastAvailIdx;
    }
}
