using HotPath.Engine.Vrings;

namespace HotPath.Engine.Datapath;

/// <summary>
/// The device side of a packed ring's used descriptors: the shadow of used flags a burst publishes once, and the
/// decision whether the driver wants a notification (driver event suppression area, EVENT_IDX).
/// <para>During a burst each used entry's length and buffer id are written in place as soon as its chain is done
/// (<see cref="PackedDescriptor.WriteUsedIdLen"/>), and its flags go into the shadow as <see cref="Entry"/>. At the
/// end of the burst, after the deferred packet copies, <see cref="Publish"/> writes the flags: every entry but the
/// first, then the first. The driver reads used descriptors strictly in ring order starting at the first one, so it
/// sees nothing of the burst until that last store, and then all of it: never a partial batch, never a descriptor
/// whose data is not copied yet.</para>
/// </summary>
internal static unsafe class PackedUsedRing
{
    /// <summary>A shadow entry: the ring index of the used descriptor and the flags it gets.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Entry(uint index, uint flags) => index | (flags << 16);

    /// <summary>
    /// Writes a used entry: id and length now, its flags (<paramref name="usedPattern"/>, with WRITE when the device
    /// wrote into the buffer) into <paramref name="shadow"/>[<paramref name="n"/>].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Add(byte* descs, uint* shadow, uint n, uint index, uint usedPattern, ushort id, uint len)
    {
        // SAFETY: index < size (a used cursor) and n < size (the caller bounds a burst to one lap of chains).
        PackedDescriptor.WriteUsedIdLen(PackedDescriptor.At(descs, index), id, len);
        shadow[n] = Entry(index, usedPattern | (len != 0 ? VringPackedDesc.FlagWrite : 0u));
    }

    /// <summary>Publishes the flags of <paramref name="n"/> shadow entries, the first one last.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Publish(byte* descs, uint* shadow, uint n)
    {
        Debug.Assert(n != 0);
        for (uint i = 1; i < n; i++) StoreFlags(descs, shadow[i]);
        // The burst's first used descriptor last: it is the one the driver is polling (see the class comment).
        StoreFlags(descs, shadow[0]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreFlags(byte* descs, uint entry)
    {
        // SAFETY: the entry's index came from a used cursor, below the ring size.
        // Release store: the id and length written in place before it, and every packet byte the burst copied into
        // (or out of) the buffer, are visible to the driver before the flags that hand the descriptor back.
        Volatile.Write(ref *(ushort*)(PackedDescriptor.At(descs, entry & 0xFFFF) + PackedRingLayout.FlagsOffset), (ushort)(entry >> 16));
    }

    /// <summary>
    /// After <see cref="Publish"/> moved the used position to <paramref name="newUsed"/> (index | wrap &lt;&lt; 15):
    /// notifies the driver when its event suppression area asks for it (DPDK's vhost_vring_call_packed). Without
    /// EVENT_IDX: unless flags say DISABLE. With EVENT_IDX: ENABLE always, DESC when the burst passed the descriptor
    /// off_wrap names (or on the first check after setup), DISABLE never. Skipped for a polling driver (no call fd)
    /// when no application hook wants to hear about it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void NotifyIfWanted(VhostDevice dev, Vring vq, ushort newUsed, bool eventIdx)
    {
        if (vq.CallFd < 0 && dev.NotifyHook == null) return;
        Check(dev, vq, newUsed, eventIdx);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Check(VhostDevice dev, Vring vq, ushort newUsed, bool eventIdx)
    {
        // Full fence: our used flag stores must be visible before we read the driver's event suppression area.
        // Without it the load below may pass those stores (store-load reordering, allowed even on x86): the driver
        // could see no used descriptor, enable notifications and sleep while we read its old DISABLE: a lost wakeup.
        Interlocked.MemoryBarrier();
        // SAFETY: Avail (the driver area) was translated with its full 4 bytes. One 32-bit load: off_wrap and flags
        // from the same moment (the driver writes off_wrap before flags; read once, use the locals).
        uint area = Volatile.Read(ref *(uint*)(vq.Avail + PackedRingLayout.EventOffWrapOffset));
        uint flags = (area >> 16) & 3;
        bool notify;
        if (!eventIdx) notify = flags != VringPackedEvent.Disable;
        else
        {
            ushort old = vq.SignalledUsed;
            bool valid = vq.SignalledUsedValid;
            vq.SignalledUsed = newUsed;
            vq.SignalledUsedValid = true;
            if (flags != VringPackedEvent.Desc) notify = flags != VringPackedEvent.Disable;
            else notify = !valid || PackedRingLayout.NeedEvent((ushort)area, old, newUsed, vq.Size);
        }
        if (notify) GuestNotifier.Inject(dev, vq);
    }
}
