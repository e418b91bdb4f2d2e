namespace HotPath.Engine.Inflight;

// The inflight region's wire layouts (vhost-user "Inflight I/O tracking", DPDK's rte_vhost_inflight_*), and the
// resubmit list handed to applications (rte_vhost_resubmit_*). The region is shared with the frontend, which may
// rewrite any of it at any time: every field is read once into a local and every index is bounded before use.

/// <summary>QueueRegionSplit header (16 bytes); DescStateSplit entries follow.</summary>
[StructLayout(LayoutKind.Explicit, Size = 16)]
public struct InflightSplitHeader
{
    [FieldOffset(0)] public ulong Features;
    [FieldOffset(8)] public ushort Version;
    [FieldOffset(10)] public ushort DescNum;
    /// <summary>Head of the list of the last batch of used descriptors (DPDK: last_inflight_io).</summary>
    [FieldOffset(12)] public ushort LastBatchHead;
    /// <summary>The used ring's idx once the last batch was fully cleared.</summary>
    [FieldOffset(14)] public ushort UsedIdx;
}

/// <summary>DescStateSplit (16 bytes), indexed by head descriptor id.</summary>
[StructLayout(LayoutKind.Explicit, Size = 16)]
public struct InflightSplitDesc
{
    [FieldOffset(0)] public byte Inflight;
    /// <summary>Next entry of the last-batch list.</summary>
    [FieldOffset(6)] public ushort Next;
    /// <summary>Order in which the head was taken from the avail ring.</summary>
    [FieldOffset(8)] public ulong Counter;
}

/// <summary>QueueRegionPacked header (32 bytes); DescStatePacked entries follow.</summary>
[StructLayout(LayoutKind.Explicit, Size = 32)]
public struct InflightPackedHeader
{
    [FieldOffset(0)] public ulong Features;
    [FieldOffset(8)] public ushort Version;
    [FieldOffset(10)] public ushort DescNum;
    [FieldOffset(12)] public ushort FreeHead;
    [FieldOffset(14)] public ushort OldFreeHead;
    [FieldOffset(16)] public ushort UsedIdx;
    [FieldOffset(18)] public ushort OldUsedIdx;
    [FieldOffset(20)] public byte UsedWrapCounter;
    [FieldOffset(21)] public byte OldUsedWrapCounter;
}

/// <summary>DescStatePacked (32 bytes): an entry of the free list, or of a taken chain.</summary>
[StructLayout(LayoutKind.Explicit, Size = 32)]
public struct InflightPackedDesc
{
    [FieldOffset(0)] public byte Inflight;
    /// <summary>Next free entry.</summary>
    [FieldOffset(2)] public ushort Next;
    /// <summary>Head entries: the last entry of the chain.</summary>
    [FieldOffset(4)] public ushort Last;
    /// <summary>Head entries: descriptors in the chain.</summary>
    [FieldOffset(6)] public ushort Num;
    [FieldOffset(8)] public ulong Counter;
    [FieldOffset(16)] public ushort Id;
    [FieldOffset(18)] public ushort Flags;
    [FieldOffset(20)] public uint Len;
    [FieldOffset(24)] public ulong Addr;
}

/// <summary>struct hp_vhost_resubmit_desc: an entry to resubmit and its counter.</summary>
[StructLayout(LayoutKind.Explicit, Size = 16)]
public struct ResubmitDesc
{
    [FieldOffset(0)] public ushort Index;
    [FieldOffset(8)] public ulong Counter;
}

/// <summary>struct hp_vhost_resubmit_info: the malloc'ed resubmit list and its length.</summary>
[StructLayout(LayoutKind.Explicit, Size = 16)]
public unsafe struct ResubmitInfo
{
    [FieldOffset(0)] public ResubmitDesc* List;
    [FieldOffset(8)] public ushort Num;
}
