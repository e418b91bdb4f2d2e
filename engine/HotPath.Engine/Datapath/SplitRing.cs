using System.Runtime.Intrinsics.X86;
using HotPath.Engine.Memory;
using HotPath.Engine.Stats;
using HotPath.Engine.Vrings;

namespace HotPath.Engine.Datapath;

/// <summary>Pieces shared by the split enqueue and dequeue bursts: burst start, chain walk, burst end.</summary>
internal static unsafe class SplitRing
{
    /// <summary>
    /// Start of a burst: reads the guest's avail index and returns how many chains it has made available since
    /// <paramref name="lastAvail"/> (0 when none, or when the index jumped by more than the ring size: the ring is
    /// then marked broken and the event counted). Also keeps guest kicks suppressed for the current features.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Begin(Vring vq, ulong features, out ushort availIdx, out ushort lastAvail)
    {
        lastAvail = vq.LastAvailIdx;
        // Acquire: the avail ring entries and the descriptors behind them, which the guest wrote before it published
        // this index, are read only after this load.
        availIdx = vq.ReadAvailIdx();
        if (vq.KickSuppressionFeatures != features) SuppressKicks(vq, features);
        uint pending = (ushort)(availIdx - lastAvail);
        if (pending > vq.Size)
        {
            Break(vq);
            return 0;
        }
        // The avail entries are read next: start pulling their cache line in.
        if (pending != 0 && Sse.IsSupported) Sse.Prefetch0(vq.Avail + SplitRingLayout.AvailRingOffset + 2 * (lastAvail & (vq.Size - 1)));
        return pending;
    }

    /// <summary>
    /// Writes used.flags / avail_event for the features (rarely: when they change) and, with the used ring logged,
    /// marks both words dirty after the write (the ordering SplitColdPublish explains).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void SuppressKicks(Vring vq, ulong features)
    {
        vq.ApplySplitKickSuppression(features);
        if (vq.ActiveLog is { } log && vq.LogUsed)
        {
            ulong pages = log.MarkRange(vq.UsedLogGpa + SplitRingLayout.UsedFlagsOffset, sizeof(ushort));
            pages += log.MarkRange(vq.UsedLogGpa + SplitRingLayout.UsedRingOffset + 8UL * vq.Size, sizeof(ushort));   // avail_event
            vq.Stats.Add(VringStats.LogPagesMarked, pages);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Break(Vring vq)
    {
        vq.BrokenReason = VringError.AvailIndexJump;
        vq.Stats.Drop(DropReason.RingBroken);
    }

    /// <summary>Walks the chain at <paramref name="head"/> (any value) into <paramref name="vec"/> from <paramref name="nVec"/> on.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static WalkResult Walk(GuestMemory mem, byte* descs, uint size, ushort head, ushort writeFlag,
        BufPiece* vec, int vecCap, int nVec = 0)
    {
        if (head >= size) return WalkResult.Bad(DropReason.DescIndexOutOfRange);
        // SAFETY: head < size, so the 16 bytes lie inside the translated descriptor table.
        SplitDescriptor.Read(descs + ((nuint)head << 4), out ulong addr, out ulong meta);
        return SplitChainWalker.Walk(mem, descs, size, addr, meta, writeFlag, vec, vecCap, nVec);
    }

    /// <summary>
    /// End of a burst, after its copies ran: publishes <paramref name="n"/> shadow used entries (one release store
    /// of used.idx), records the new avail position and notifies the guest if it asked for it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Complete(VhostDevice dev, Vring vq, VringUsedElem* shadow, uint n, ushort lastAvail, bool eventIdx)
    {
        vq.LastAvailIdx = lastAvail;
        if (n == 0) return;
        // Cold features (dirty log, inflight tracking): one predictable branch per burst; their path is NoInlining.
        vq.LastUsedIdx = vq.ColdFeatures == 0
            ? SplitUsedRing.Publish(vq.Used, vq.Size, shadow, n, vq.LastUsedIdx)
            : SplitColdPublish.Publish(dev, vq, shadow, n);
        SplitUsedRing.NotifyIfWanted(dev, vq, vq.Avail, vq.LastUsedIdx, eventIdx);
    }
}
