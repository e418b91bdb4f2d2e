namespace HotPath.Engine.Virtio;

/// <summary>A packed-ring descriptor (virtio 2.8.13): 16 bytes in guest memory.</summary>
[StructLayout(LayoutKind.Sequential, Size = 16)]
public struct VringPackedDesc
{
    public ulong Addr;
    public uint Len;
    public ushort Id;
    public ushort Flags;

    public const ushort FlagNext = 1, FlagWrite = 2, FlagIndirect = 4;
    public const ushort FlagAvail = 1 << 7, FlagUsed = 1 << 15;
}

/// <summary>Packed-ring event suppression structure (driver and device areas, 4 bytes each).</summary>
[StructLayout(LayoutKind.Sequential, Size = 4)]
public struct VringPackedEvent
{
    /// <summary>Bits 0-14 descriptor offset, bit 15 wrap counter.</summary>
    public ushort OffWrap;
    /// <summary>Bits 0-1: ENABLE (0), DISABLE (1), DESC (2).</summary>
    public ushort Flags;

    public const ushort Enable = 0, Disable = 1, Desc = 2;
}

/// <summary>
/// Byte layout and flag arithmetic of a packed virtqueue (virtio 1.1 section 2.7 / 1.2 section 2.8), shared by the
/// device datapath and the driver-side ring builder.
/// <para>A ring position is an index below the ring size plus a wrap counter. Both sides keep the wrap counter as
/// the flag pattern it implies, so that flipping it is one XOR: <see cref="AvailPattern"/> is what the AVAIL/USED
/// bits of a descriptor read when the driver made it available in that lap, <see cref="UsedPattern"/> what they read
/// once the device used it. A position packed into 16 bits (event suppression <c>off_wrap</c>, GET_VRING_BASE) is
/// index | wrap &lt;&lt; 15.</para>
/// </summary>
public static class PackedRingLayout
{
    public const uint MaxSize = 32768;
    public static ulong DescBytes(uint size) => 16UL * size;
    public const ulong EventBytes = 4;

    /// <summary>Byte offsets inside a descriptor: addr, len, id, flags; the second 8-byte word is len | id &lt;&lt; 32 | flags &lt;&lt; 48.</summary>
    public const int AddrOffset = 0, LenOffset = 8, IdOffset = 12, FlagsOffset = 14, MetaOffset = 8;

    /// <summary>Byte offsets inside an event suppression area; the whole area is one 32-bit word off_wrap | flags &lt;&lt; 16.</summary>
    public const int EventOffWrapOffset = 0, EventFlagsOffset = 2;

    /// <summary>AVAIL and USED together: the bits that say who owns a descriptor.</summary>
    public const ushort OwnershipMask = VringPackedDesc.FlagAvail | VringPackedDesc.FlagUsed;

    /// <summary>Bit 15 of a 16-bit position (off_wrap, GET_VRING_BASE): the wrap counter.</summary>
    public const ushort WrapBit = 0x8000;

    /// <summary>
    /// The AVAIL/USED bits of a descriptor the driver made available in a lap with wrap counter
    /// <paramref name="wrap"/>: AVAIL == wrap and USED != wrap. Every other combination (both set, both clear, the
    /// other lap's pattern) means "not available" (SECURITY.md 17).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort AvailPattern(bool wrap) => wrap ? VringPackedDesc.FlagAvail : VringPackedDesc.FlagUsed;

    /// <summary>The AVAIL/USED bits the device writes when it uses a descriptor in a lap with used wrap counter <paramref name="wrap"/>: both equal to it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort UsedPattern(bool wrap) => wrap ? OwnershipMask : (ushort)0;

    /// <summary>True when a descriptor with <paramref name="flags"/> is available for the given wrap counter.</summary>
    public static bool IsAvail(ushort flags, bool wrap) => (flags & OwnershipMask) == AvailPattern(wrap);

    /// <summary>True when a descriptor with <paramref name="flags"/> was used by the device in the lap of <paramref name="wrap"/>.</summary>
    public static bool IsUsed(ushort flags, bool wrap) => (flags & OwnershipMask) == UsedPattern(wrap);

    /// <summary>Index | wrap &lt;&lt; 15.</summary>
    public static ushort Position(uint index, bool wrap) => (ushort)((index & 0x7FFF) | (wrap ? WrapBit : 0u));

    /// <summary>
    /// The packed ring's event test (virtio 2.8.10, Linux's and QEMU's vring_packed_need_event): the other side asked
    /// to hear about the descriptor at <paramref name="eventOffWrap"/>; this side moved its position from
    /// <paramref name="oldPos"/> to <paramref name="newPos"/> (each index | wrap &lt;&lt; 15, at most one lap apart).
    /// True when the asked-for position is among the ones just passed. The event offset is read relative to the lap
    /// of <paramref name="newPos"/>: with the other wrap counter it lies one lap back.
    /// </summary>
    public static bool NeedEvent(ushort eventOffWrap, ushort oldPos, ushort newPos, uint size)
    {
        int newIdx = newPos & 0x7FFF, oldIdx = oldPos & 0x7FFF;
        bool newWrap = (newPos & WrapBit) != 0;
        // Descriptors passed: within one lap, or across the ring's end (exactly one lap when the indexes are equal).
        int moved = newIdx - oldIdx + (((oldPos ^ newPos) & WrapBit) != 0 ? (int)size : 0);
        if (moved <= 0) return moved < 0;   // nothing new; a negative distance cannot happen: notify to be safe
        int evt = eventOffWrap & 0x7FFF;
        if (((eventOffWrap & WrapBit) != 0) != newWrap) evt -= (int)size;
        // The event position is one of old .. new-1 (vring_need_event's (u16)(new - event - 1) < (u16)(new - old)).
        int behind = newIdx - evt - 1;
        return behind >= 0 && behind < moved;
    }
}
