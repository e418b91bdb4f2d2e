namespace HotPath.Engine.Virtio;

/// <summary>A split-ring descriptor (virtio 2.7.5): 16 bytes in guest memory.</summary>
[StructLayout(LayoutKind.Sequential, Size = 16)]
public struct VringDesc
{
    public ulong Addr;
    public uint Len;
    public ushort Flags;
    public ushort Next;

    public const ushort FlagNext = 1, FlagWrite = 2, FlagIndirect = 4;
}

/// <summary>A used-ring element (virtio 2.7.8): 8 bytes.</summary>
[StructLayout(LayoutKind.Sequential, Size = 8)]
public struct VringUsedElem
{
    public uint Id;
    public uint Len;
}

/// <summary>Byte layout of the three split-ring areas for a queue of <c>size</c> entries.</summary>
public static class SplitRingLayout
{
    public const ushort AvailFlagNoInterrupt = 1;   // VRING_AVAIL_F_NO_INTERRUPT
    public const ushort UsedFlagNoNotify = 1;       // VRING_USED_F_NO_NOTIFY
    public const uint MaxSize = 32768;

    // avail: u16 flags, u16 idx, u16 ring[size], u16 used_event
    public const int AvailFlagsOffset = 0, AvailIdxOffset = 2, AvailRingOffset = 4;
    // used: u16 flags, u16 idx, elem ring[size], u16 avail_event
    public const int UsedFlagsOffset = 0, UsedIdxOffset = 2, UsedRingOffset = 4;

    public static ulong DescBytes(uint size) => 16UL * size;
    /// <summary>Avail ring bytes including the used_event word (present with or without EVENT_IDX in memory).</summary>
    public static ulong AvailBytes(uint size) => 4UL + 2UL * size + 2UL;
    /// <summary>Used ring bytes including the avail_event word.</summary>
    public static ulong UsedBytes(uint size) => 4UL + 8UL * size + 2UL;
    public static int UsedEventOffset(uint size) => AvailRingOffset + 2 * (int)size;
    public static int AvailEventOffset(uint size) => UsedRingOffset + 8 * (int)size;

    /// <summary>virtio's vring_need_event: should the other side be notified after moving old → new?</summary>
    public static bool NeedEvent(ushort eventIdx, ushort newIdx, ushort oldIdx) =>
        (ushort)(newIdx - eventIdx - 1) < (ushort)(newIdx - oldIdx);
}
