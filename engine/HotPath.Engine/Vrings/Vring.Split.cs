using HotPath.Engine.Datapath;

namespace HotPath.Engine.Vrings;

/// <summary>Split-ring datapath state of a vring: its native scratch and the guest-kick suppression setting.</summary>
public sealed unsafe partial class Vring
{
    private SplitScratch? _splitScratch;

    /// <summary>The split datapath's scratch; non-null whenever a translated split ring is set up.</summary>
    internal SplitScratch? SplitScratch => _splitScratch;

    /// <summary>Sizes the scratch for the current ring (allocates only when the size changed).</summary>
    private void PrepareSplit()
    {
        if (_splitScratch != null && _splitScratch.RingSize == Size) return;
        _splitScratch?.Dispose();
        _splitScratch = new SplitScratch(Size);
    }

    /// <summary>
    /// Suppresses guest kicks (we poll): VRING_USED_F_NO_NOTIFY without EVENT_IDX. With EVENT_IDX the flags word
    /// must stay 0 and avail_event is left alone, as DPDK does: the guest then kicks only when its avail index
    /// crosses an avail_event we never advance. With <see cref="GuestKicksWanted"/> (interrupt mode) the flag is
    /// clear, and with EVENT_IDX avail_event is the next avail index. Called from a burst when the features changed
    /// since last time, and by <see cref="SetGuestKicks"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal void ApplySplitKickSuppression(ulong features)
    {
        bool eventIdx = VirtioFeatures.Has(features, VirtioFeatures.RingEventIdx);
        ushort flags = eventIdx || GuestKicksWanted ? (ushort)0 : SplitRingLayout.UsedFlagNoNotify;
        // SAFETY: Used was translated with the ring's full used-area length (flags is its first word, avail_event
        // its last).
        // Ordering: a plain store; the guest reads it only as a hint, and the next used.idx release store orders it.
        *(ushort*)(Used + SplitRingLayout.UsedFlagsOffset) = flags;
        LogUsedWrite(SplitRingLayout.UsedFlagsOffset, sizeof(ushort));
        if (eventIdx && GuestKicksWanted)
        {
            // Kick when the guest makes the next entry available (DPDK's vhost_enable_notify_split).
            int at = SplitRingLayout.AvailEventOffset(Size);
            Volatile.Write(ref *(ushort*)(Used + at), LastAvailIdx);
            LogUsedWrite((ulong)at, sizeof(ushort));
        }
        KickSuppressionFeatures = features;
    }
}
