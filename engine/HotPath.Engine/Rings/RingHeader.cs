using HotPath.Engine.Buffers;

namespace HotPath.Engine.Rings;

/// <summary>
/// One side (producer or consumer) of a ring: its head and tail, plus the owner's cached copy of the other side's
/// tail, on one cache line, alone in a 128-byte block (so the adjacent-line prefetcher does not pair it with the
/// other side's line). As DPDK's rte_ring_headtail.
/// <para>MP/MC: <see cref="Head"/> is claimed by compare-exchange; <see cref="Tail"/> is published in claim order.
/// SP/SC: the one owner moves both with plain/release stores.</para>
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 128)]
public struct RingIndexes
{
    /// <summary>Next index to claim (free-running, masked for the slot).</summary>
    [FieldOffset(0)] public uint Head;
    /// <summary>Everything before it is complete and visible to the other side.</summary>
    [FieldOffset(4)] public uint Tail;
    /// <summary>SP/SC only: the last value of the other side's tail this side read. Stale is safe (it only
    /// under-estimates what the other side has released), so the common case reads no line the other side writes.</summary>
    [FieldOffset(8)] public uint OppositeTailCache;
}

/// <summary>
/// <c>struct hp_ring</c> (opaque to C): a bounded lock-free ring of pointers in native memory, DPDK rte_ring
/// semantics. Size is a power of two; usable capacity is size - 1. The slots follow the header.
/// <para>Layout: bytes 0-127 read-only configuration; producer indexes at 128; consumer indexes at 256; slots at
/// 384. The producer writes only its line and the slots; the consumer only its line.</para>
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = HeaderSize)]
public unsafe struct RingHeader
{
    public const int HeaderSize = 384;
    public const uint MagicValue = 0x52_50_48_31; // "1HPR"
    public const int NameSize = 32;

    [FieldOffset(0)] public uint Magic;
    [FieldOffset(4)] public RingFlags Flags;
    [FieldOffset(8)] public uint Size;
    [FieldOffset(12)] public uint Mask;
    [FieldOffset(16)] public uint Capacity;
    /// <summary>NUL-terminated UTF-8 name (at most 31 bytes).</summary>
    [FieldOffset(32)] public fixed byte Name[NameSize];

    /// <summary>The mapping that holds this header and its slots.</summary>
    [FieldOffset(64)] public PageBlock Block;

    [FieldOffset(128)] public RingIndexes Prod;
    [FieldOffset(256)] public RingIndexes Cons;

    /// <summary>The slot array right after the header.</summary>
    public static void** Slots(RingHeader* r) => (void**)((byte*)r + HeaderSize);
}
