using HotPath.Engine.Vrings;

namespace HotPath.Engine.Datapath;

/// <summary>
/// The device side of a split ring's used ring: publishing a burst's shadow entries once, and deciding whether the
/// guest wants a notification for them (EVENT_IDX used_event, or the NO_INTERRUPT flag).
/// </summary>
internal static unsafe class SplitUsedRing
{
    /// <summary>
    /// Copies <paramref name="n"/> shadow entries into the used ring from <paramref name="lastUsed"/> on (wrapping at
    /// the ring end), then publishes the new used index. Returns the new index.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Publish(byte* used, uint size, VringUsedElem* shadow, uint n, ushort lastUsed)
    {
        WriteEntries(used, size, shadow, n, lastUsed);
        ushort newUsed = (ushort)(lastUsed + n);
        // Release store: the used elements above, and every packet byte and header written into guest buffers
        // before them, are visible to the guest before the index that hands those buffers back.
        Volatile.Write(ref *(ushort*)(used + SplitRingLayout.UsedIdxOffset), newUsed);
        return newUsed;
    }

    /// <summary>Copies <paramref name="n"/> shadow entries into the used ring from <paramref name="lastUsed"/> on (not the index).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void WriteEntries(byte* used, uint size, VringUsedElem* shadow, uint n, ushort lastUsed)
    {
        Debug.Assert(n != 0 && n <= size);
        var ring = (VringUsedElem*)(used + SplitRingLayout.UsedRingOffset);
        uint start = lastUsed & (size - 1);
        uint first = Math.Min(n, size - start);
        // SAFETY: start + first <= size and n - first < size: both ranges are inside the translated used ring.
        PacketCopy.Copy((byte*)(ring + start), (byte*)shadow, (nuint)first * 8);
        if (n != first) PacketCopy.Copy((byte*)ring, (byte*)(shadow + first), (nuint)(n - first) * 8);
    }

    /// <summary>
    /// After <see cref="Publish"/>: notifies the guest when it asked for it (DPDK's vhost_vring_call_split).
    /// Skipped entirely for a polling guest (no call fd) when no application hook wants to hear about it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void NotifyIfWanted(VhostDevice dev, Vring vq, byte* avail, ushort newUsed, bool eventIdx)
    {
        if (vq.CallFd < 0 && dev.NotifyHook == null) return;
        // Full fence: our used.idx store must be visible before we read the guest's suppression fields. Without it
        // the load below may pass the store (store-load reordering, allowed even on x86): the guest could read the
        // old used.idx, re-enable interrupts and sleep, while we read its old "no interrupt" setting: a lost wakeup.
        Interlocked.MemoryBarrier();
        bool notify;
        if (eventIdx)
        {
            ushort old = vq.SignalledUsed;
            bool valid = vq.SignalledUsedValid;
            vq.SignalledUsed = newUsed;
            vq.SignalledUsedValid = true;
            // SAFETY: Avail was translated with the ring's full avail-area length, used_event included.
            ushort usedEvent = Volatile.Read(ref *(ushort*)(avail + SplitRingLayout.UsedEventOffset(vq.Size)));
            notify = !valid || SplitRingLayout.NeedEvent(usedEvent, newUsed, old);
        }
        else
        {
            // SAFETY: flags is the first word of the translated avail ring.
            ushort flags = Volatile.Read(ref *(ushort*)(avail + SplitRingLayout.AvailFlagsOffset));
            notify = (flags & SplitRingLayout.AvailFlagNoInterrupt) == 0;
        }
        if (notify) GuestNotifier.Inject(dev, vq);
    }
}
