using HotPath.Engine.Vrings;

namespace HotPath.Engine.Datapath;

/// <summary>
/// The device side of a packed ring's used descriptors: where each used entry's flags go, and the decision whether the
/// driver wants a notification (driver event suppression area, EVENT_IDX).
/// <para>During a burst each used entry's length and buffer id are written in place as soon as its chain is done
/// (<see cref="PackedDescriptor.WriteUsedIdLen"/>). The driver reads used descriptors strictly in ring order starting
/// at the burst's first one, so it sees nothing of the burst until that one's flags are stored, and then all of it:
/// never a partial batch, never a descriptor whose data is not copied yet. In the common burst (no cold feature, the
/// used position equal to the avail position: <see cref="DirectFrom"/>) every entry but the first therefore gets its
/// flags at once, and only the first goes into the shadow, stored by <see cref="Publish"/> at the end of the burst
/// after the deferred copies. Otherwise every entry's flags wait in the shadow (<see cref="Entry"/>) and are stored
/// at the end, every entry but the first, then the first (the cold path needs them there: the inflight protocol
/// names the new used position before any flag is stored).</para>
/// </summary>
internal static unsafe class PackedUsedRing
{
    /// <summary>A shadow entry: the ring index of the used descriptor and the flags it gets.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Entry(uint index, uint flags) => index | (flags << 16);

    /// <summary>Shadow positions from which entries get their flags at once: every one but the first, or none.</summary>
    public const uint DirectFromSecond = 1, DirectNever = uint.MaxValue;

    /// <summary>
    /// The burst's <c>directFrom</c>: <see cref="DirectFromSecond"/> when no cold feature is on and the used position
    /// is the avail position (the used slot of each chain is then its own head, already read), else
    /// <see cref="DirectNever"/>. Read at the start of a burst, before the cursors move.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint DirectFrom(Vring vq) =>
        vq.ColdFeatures == 0 && vq.LastAvailIdx == vq.LastUsedIdx && vq.AvailWrapCounter == vq.UsedWrapCounter
            ? DirectFromSecond : DirectNever;

    /// <summary>
    /// Writes a used entry: id and length now; its flags (<paramref name="usedPattern"/>, with WRITE when the device
    /// wrote into the buffer) at once when <paramref name="n"/> &gt;= <paramref name="directFrom"/>, otherwise into
    /// <paramref name="shadow"/>[<paramref name="n"/>] for <see cref="Publish"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Add(byte* descs, uint* shadow, uint n, uint directFrom, uint index, uint usedPattern, ushort id, uint len)
    {
        // SAFETY: index < size (a used cursor) and n < size (the caller bounds a burst to one lap of chains).
        byte* d = PackedDescriptor.At(descs, index);
        PackedDescriptor.WriteUsedIdLen(d, id, len);
        uint flags = usedPattern | (len != 0 ? VringPackedDesc.FlagWrite : 0u);
        if (n >= directFrom) StoreFlagsAt(d, flags);
        else shadow[n] = Entry(index, flags);
    }

    /// <summary>
    /// Publishes the flags the burst's <paramref name="n"/> entries still wait for, the first one last (see the class
    /// comment): with <see cref="DirectFromSecond"/> only the first's.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Publish(byte* descs, uint* shadow, uint n, uint directFrom)
    {
        Debug.Assert(n != 0);
        if (directFrom == DirectNever)
            for (uint i = 1; i < n; i++) StoreFlags(descs, shadow[i]);
        // The burst's first used descriptor last: it is the one the driver is polling (see the class comment).
        StoreFlags(descs, shadow[0]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreFlags(byte* descs, uint entry) =>
        // SAFETY: the entry's index came from a used cursor, below the ring size.
        StoreFlagsAt(PackedDescriptor.At(descs, entry & 0xFFFF), entry >> 16);

    /// <summary>
    /// Hands the descriptor at <paramref name="d"/> back to the driver. Release store: the id and length written in
    /// place before it, and every packet byte copied before it, are visible to the driver before the flags.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreFlagsAt(byte* d, uint flags) =>
        Volatile.Write(ref *(ushort*)(d + PackedRingLayout.FlagsOffset), (ushort)flags);

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
